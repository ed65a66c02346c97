//! Custom handlers: sandboxed JavaScript from the configured folder, selected by an event
//! setting's `handlerName` (see `herald-scripting`). The script runs on a blocking thread; each
//! `utils.*` call it makes is answered by the same utility API the default handlers use,
//! gathering into the same commit. What the script sends and schedules is what gets
//! committed; its return value is not stored.

use super::context::HandlerContext;
use super::utilities;
use crate::EngineError;
use herald_core::Invalid;
use herald_scripting::{HandlerApi, ScriptError, ScriptLimits, Scripts};
use serde_json::Value;
use std::sync::Arc;
use tokio::runtime::Handle;
use tokio::sync::Mutex;

/// The loaded scripts and the limits every run gets.
pub struct ScriptHost {
    scripts: Scripts,
    limits: ScriptLimits,
}

impl ScriptHost {
    /// Hosts `scripts`, running each under `limits`.
    pub fn new(scripts: Scripts, limits: ScriptLimits) -> Self {
        Self { scripts, limits }
    }

    /// Whether a handler of that name is loaded.
    pub fn contains(&self, name: &str) -> bool {
        self.scripts.contains(name)
    }
}

struct Bridge {
    context: Arc<Mutex<HandlerContext>>,
    runtime: Handle,
}

impl HandlerApi for Bridge {
    fn call(&self, function: &str, args: Vec<Value>) -> Result<Value, String> {
        self.runtime.block_on(async {
            let mut context = self.context.lock().await;
            utilities::call(&mut context, function, args).await.map_err(|e| e.to_string())
        })
    }
}

/// Runs handler `name` on the context's event with `config`; returns the context with what the
/// script decided, or the reason it failed (it threw, ran out of time or memory).
pub(super) async fn run(
    host: Arc<ScriptHost>,
    name: String,
    context: HandlerContext,
    event: Value,
    config: Value,
) -> Result<HandlerContext, EngineError> {
    let shared = Arc::new(Mutex::new(context));
    let bridge = Bridge { context: shared.clone(), runtime: Handle::current() };
    let script = name.clone();
    let outcome = tokio::task::spawn_blocking(move || host.scripts.run(&script, &event, &config, &bridge, &host.limits))
        .await
        .map_err(|_| Invalid::new("", format!("custom handler {name} crashed")))?;
    if let Err(error) = outcome {
        let reason = match error {
            ScriptError::Timeout(limit) => format!("was stopped after {} ms", limit.as_millis()),
            ScriptError::OutOfMemory => "was stopped: it used more memory than allowed".to_string(),
            other => other.to_string(),
        };
        return Err(Invalid::new("", format!("custom handler {name} failed: {reason}")).into());
    }
    let context = Arc::try_unwrap(shared).map_err(|_| Invalid::new("", format!("custom handler {name} left calls running")))?;
    Ok(context.into_inner())
}
