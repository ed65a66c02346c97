//! The clinic catalogue: the patient and staff events of seed 02 and the email events of
//! seed 05, built in. Each definition says who hears about the event (the patient the event
//! carries, or a staff group), on which channels and with which template by default, and which
//! template variables its payload carries (its schema).
//!
//! Seed 02's channel table leaves some cells empty; there Herald chooses: SMS and push for the
//! walk-in queue (it is about the next minutes), WhatsApp and email for the other patient
//! events. Staff events go to `email` and `in_app` for the group named below. A tenant's own
//! notification settings for an event replace these defaults entirely.

use crate::resources::channel::Channel;
use Channel::*;
use serde_json::{Value, json};

/// Who a catalogue event is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The patient the event names (inline `patient_*` fields or the directory's `patient_id`).
    Patient,
    /// Every user in this staff group.
    Staff(&'static str),
}

/// One built-in clinic event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Definition {
    /// The event name (also the routing key on the topic exchange).
    pub name: &'static str,
    /// Who hears about it.
    pub audience: Audience,
    /// Default channels.
    pub channels: &'static [Channel],
    /// Default template name.
    pub template: &'static str,
    /// Payload fields (template variables) the event carries.
    pub variables: &'static [&'static str],
    /// Whether the event schedules appointment reminders (24 h, 2 h, 30 min before).
    pub schedules_reminders: bool,
    /// Whether the event cancels the appointment's pending reminders.
    pub aborts_reminders: bool,
}

const PATIENT: &[&str] = &["patient_id", "patient_name", "patient_phone", "patient_email"];
const APPOINTMENT: &[&str] = &[
    "patient_id",
    "patient_name",
    "patient_phone",
    "patient_email",
    "booking_reference",
    "slot_date",
    "slot_time",
    "status",
    "doctor_name",
    "centre_name",
    "amount",
    "payment_status",
];
const WALK_IN: &[&str] = &[
    "patient_id",
    "patient_name",
    "patient_phone",
    "patient_email",
    "token_number",
    "queue_name",
    "position_in_queue",
    "assigned_room",
    "centre_name",
];
const EMERGENCY: &[&str] = &[
    "patient_id",
    "patient_name",
    "patient_phone",
    "patient_email",
    "booking_reference",
    "slot_date",
    "slot_time",
    "doctor_name",
    "centre_name",
    "refund_amount",
    "reschedule_link",
];
const STAFF: &[&str] = &["patient_id", "patient_name", "amount", "reference", "centre_name"];
const SEED05_APPOINTMENT: &[&str] =
    &["clinic_id", "appointment_id", "patient_id", "patient_email", "patient_name", "start_time", "professional_name", "reason"];
const BUDGET: &[&str] = &["clinic_id", "budget_id", "patient_id", "patient_email", "patient_name", "budget_number", "total", "currency"];

const WHATSAPP_EMAIL: &[Channel] = &[Whatsapp, Email];
const QUEUE: &[Channel] = &[Sms, Push];
const STAFF_CHANNELS: &[Channel] = &[Email, InApp];
const EMAIL: &[Channel] = &[Email];

const fn patient(
    name: &'static str,
    channels: &'static [Channel],
    template: &'static str,
    variables: &'static [&'static str],
) -> Definition {
    Definition { name, audience: Audience::Patient, channels, template, variables, schedules_reminders: false, aborts_reminders: false }
}

const fn staff(name: &'static str, group: &'static str, template: &'static str) -> Definition {
    Definition {
        name,
        audience: Audience::Staff(group),
        channels: STAFF_CHANNELS,
        template,
        variables: STAFF,
        schedules_reminders: false,
        aborts_reminders: false,
    }
}

const fn scheduling(mut definition: Definition) -> Definition {
    definition.schedules_reminders = true;
    definition.aborts_reminders = true;
    definition
}

const fn aborting(mut definition: Definition) -> Definition {
    definition.aborts_reminders = true;
    definition
}

/// The reminder event appointment reminders emit.
pub const APPOINTMENT_REMINDER: &str = "appointment.reminder";

/// When appointment reminders fire before the appointment (seed 02: 24 h, 2 h, 30 min).
pub const REMINDER_SCHEDULES: [&str; 3] = ["PT24H", "PT2H", "PT30M"];

/// Every built-in clinic event.
pub const CATALOGUE: &[Definition] = &[
    scheduling(patient("appointment.confirmed", WHATSAPP_EMAIL, "appointment_confirmed", APPOINTMENT)),
    patient("appointment.pending_approval", WHATSAPP_EMAIL, "appointment_pending_approval", APPOINTMENT),
    aborting(patient("appointment.rejected", WHATSAPP_EMAIL, "appointment_rejected", APPOINTMENT)),
    aborting(patient("appointment.cancelled", WHATSAPP_EMAIL, "appointment_cancelled", APPOINTMENT)),
    scheduling(patient("appointment.rescheduled", WHATSAPP_EMAIL, "appointment_rescheduled", APPOINTMENT)),
    patient("appointment.completed", WHATSAPP_EMAIL, "appointment_completed", APPOINTMENT),
    aborting(patient("appointment.no_show", WHATSAPP_EMAIL, "appointment_no_show", APPOINTMENT)),
    patient(APPOINTMENT_REMINDER, WHATSAPP_EMAIL, "appointment_reminder", APPOINTMENT),
    patient("walkin.token_called", QUEUE, "walkin_token_called", WALK_IN),
    patient("walkin.approaching_turn", QUEUE, "walkin_approaching_turn", WALK_IN),
    patient("prescription.ready", WHATSAPP_EMAIL, "prescription_ready", PATIENT),
    patient("report.ready", WHATSAPP_EMAIL, "report_ready", PATIENT),
    aborting(patient("doctor.emergency_leave", WHATSAPP_EMAIL, "emergency_leave", EMERGENCY)),
    staff("billing.bill_generated", "billing", "staff_bill_generated"),
    staff("billing.refund_processed", "finance", "staff_refund_processed"),
    staff("billing.deposit_received", "accounts", "staff_deposit_received"),
    staff("package.purchased", "billing", "staff_package_purchased"),
    staff("package.redeemed", "billing", "staff_package_redeemed"),
    staff("package.expired", "billing", "staff_package_expired"),
    staff("package.exhausted", "billing", "staff_package_exhausted"),
    staff("lab.test_requested", "lab", "staff_test_requested"),
    scheduling(patient("appointment.scheduled", EMAIL, "appointment_confirmation", SEED05_APPOINTMENT)),
    patient("patient.created", EMAIL, "welcome", PATIENT),
    patient("budget.sent", EMAIL, "budget_sent", BUDGET),
    patient("budget.accepted", EMAIL, "budget_accepted", BUDGET),
];

/// The definition of a catalogue event.
pub fn definition(name: &str) -> Option<&'static Definition> {
    CATALOGUE.iter().find(|d| d.name == name)
}

impl Definition {
    /// The JSON Schema of the event: a payload of the catalogue's variables (strings or
    /// numbers), a patient event naming its patient by id, email or phone.
    pub fn schema(&self) -> Value {
        let properties: serde_json::Map<String, Value> =
            self.variables.iter().map(|v| (v.to_string(), json!({"type": ["string", "number", "null"]}))).collect();
        let mut payload = json!({"type": "object", "properties": properties});
        if self.audience == Audience::Patient {
            payload["anyOf"] = json!([{"required": ["patient_id"]}, {"required": ["patient_email"]}, {"required": ["patient_phone"]}]);
        }
        json!({"type": "object", "required": ["payload"], "properties": {"payload": payload}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_every_seed_event_once() {
        assert_eq!(
            CATALOGUE
                .iter()
                .filter(|d| d.audience == Audience::Patient
                    && !d.name.starts_with("budget")
                    && d.name != "patient.created"
                    && d.name != "appointment.scheduled")
                .count(),
            13
        );
        for (i, d) in CATALOGUE.iter().enumerate() {
            assert!(CATALOGUE[..i].iter().all(|other| other.name != d.name), "{} twice", d.name);
            assert!(crate::values::EventName::parse(d.name).is_ok());
            assert!(jsonschema::meta::validate(&d.schema()).is_ok());
        }
        assert_eq!(definition("appointment.cancelled").unwrap().channels, WHATSAPP_EMAIL);
        assert!(definition("appointment.confirmed").unwrap().schedules_reminders);
    }
}
