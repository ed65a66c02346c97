//! The files an email carries: its template's `emailAttachments` and the ones its send named,
//! read from the files service when the email is prepared. A file that is gone by then, or a
//! set over the 15 MiB an email may carry, fails the message for good with the reason; other
//! channels carry no files.

use super::Inner;
use crate::EngineError;
use herald_channels::Attachment;
use herald_core::notification::Message;
use herald_core::resources::channel::Channel;

impl Inner {
    /// The attachments of `message`, or why they cannot be attached. A template's attachments
    /// are those of the template the message is rendered with (looked up again here, as the
    /// renderer does), resolved in the message's tenant.
    pub(super) async fn attachments(&self, tenant: &str, message: &Message) -> Result<Result<Vec<Attachment>, String>, EngineError> {
        if message.channel != Channel::Email {
            return Ok(Ok(Vec::new()));
        }
        let from_template = match &message.content {
            Some(_) => Vec::new(),
            None => self.templates.find(tenant, &message.template_name).await?.map(|t| t.email_attachments).unwrap_or_default(),
        };
        if from_template.is_empty() && message.attachments.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        self.files.read_attachments(tenant, &from_template, &message.attachments).await
    }
}
