//! Sandboxed JavaScript *custom event handlers* for Herald's event engine.
//!
//! Clinics drop `.js` files into the folder named in configuration; an event setting's `handlerName`
//! picks one of them by file stem. [`Scripts::load_dir`] reads and checks every file once at start-up,
//! [`Scripts::run`] then runs a handler for each event and returns the notifications it built as JSON.
//!
//! # Script shape
//!
//! A handler file defines a function named `handler`, plain or `async`, called as
//! `handler(event, utils, config)`:
//!
//! - `event` is the incoming event (JSON),
//! - `utils` carries the handler utility API of the Mia-Platform Notification Manager
//!   ([`UTILITY_FUNCTIONS`]: `getNotificationSettings`, `getRecipients`, `buildMessages`, `sendMessages`, …)
//!   plus `utils.log(message)`, which is accepted and dropped,
//! - `config` is the event setting's `handlerConfig`, or `null`.
//!
//! Every `utils` call goes synchronously to the engine through [`HandlerApi::call`] and returns a plain
//! JavaScript value, so both `utils.getRecipients(...)` and `await utils.getRecipients(...)` work. An error
//! from the engine is thrown as an `Error` the script may catch. The handler's return value (awaited when
//! it is a promise) must be JSON: it is handed back as a [`serde_json::Value`]. Promise callbacks the handler
//! did not await still run before the run ends, within the time limit.
//!
//! ```js
//! async function handler(event, utils, config) {
//!   const recipients = await utils.getRecipients({ ids: event.payload.ids });
//!   return recipients.map((recipient) => ({
//!     recipient,
//!     template: config?.template ?? "appointment-reminder",
//!   }));
//! }
//! ```
//!
//! # Why QuickJS
//!
//! - Seed-style JavaScript handlers stay portable: the same files run here as in the Notification Manager.
//! - QuickJS (through `rquickjs`) is a small C engine compiled once into the binary: no external runtime
//!   to install, no JIT.
//! - It enforces hard limits ([`ScriptLimits`]): a memory ceiling on the engine's allocator, a maximum
//!   stack depth, and an interrupt handler that stops a script once its time is up, even in `while (true) {}`.
//! - Each run gets a fresh runtime and context that is dropped afterwards, so nothing leaks between events.
//!
//! Scripts see only the ECMAScript built-ins, `event`, `utils` and `config`: no network, file or process
//! access exists (QuickJS has none unless the host adds it, and the `std`/`os` modules are not added).
//! Each run happens on its own short-lived thread whose stack is sized for the JavaScript stack limit, so
//! runaway recursion raises a `RangeError` instead of overflowing the caller's stack. A script that throws,
//! loops or grabs memory ends with a [`ScriptError`]; the process carries on.

mod runtime;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// What a running script may ask of Herald. Implemented by the engine; calls may block.
pub trait HandlerApi: Send + Sync {
    /// Calls the utility `function` (e.g. "getRecipients") with JSON arguments; Err(message) becomes a JS exception in the script.
    fn call(&self, function: &str, args: Vec<serde_json::Value>) -> Result<serde_json::Value, String>;
}

/// The utility functions exposed on `utils` to scripts.
pub const UTILITY_FUNCTIONS: &[&str] = &[
    "getNotificationSettings",
    "mergeNotificationSettings",
    "getRecipients",
    "buildMessages",
    "sendMessages",
    "sendNotification",
    "buildReminders",
    "setReminders",
    "abortReminders",
    "mergeNotifications",
];

/// Limits applied to every run.
#[derive(Clone, Debug)]
pub struct ScriptLimits {
    /// Wall-clock time a run may take, including time spent waiting on [`HandlerApi::call`].
    pub timeout: Duration,
    /// Memory the JavaScript engine may allocate.
    pub memory_bytes: usize,
    /// Stack the JavaScript engine may use before throwing a `RangeError`.
    pub stack_bytes: usize,
}

impl Default for ScriptLimits {
    /// 2 s, 32 MiB of memory, 512 KiB of stack.
    fn default() -> Self {
        Self { timeout: Duration::from_secs(2), memory_bytes: 32 << 20, stack_bytes: 512 << 10 }
    }
}

/// Why a script did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// No handler with that name.
    #[error("no handler script named `{0}`")]
    NotFound(String),
    /// The script does not compile, fails while loading, or defines no `handler` function.
    #[error("handler script `{name}` cannot be loaded: {reason}")]
    Load {
        /// The handler's name (file stem).
        name: String,
        /// What went wrong.
        reason: String,
    },
    /// The script threw; holds the JavaScript error's text.
    #[error("handler script threw: {0}")]
    Thrown(String),
    /// The script was stopped after the time limit.
    #[error("handler script stopped after the {0:?} time limit")]
    Timeout(Duration),
    /// The script was stopped at the memory limit.
    #[error("handler script stopped at the memory limit")]
    OutOfMemory,
    /// The handler returned something that is not JSON (or `undefined`), or a promise that never settles.
    #[error("handler script returned an invalid result: {0}")]
    InvalidResult(String),
}

/// The handlers found in a folder: every `*.js` file, named by its file stem.
#[derive(Clone, Debug, Default)]
pub struct Scripts {
    sources: BTreeMap<String, String>,
}

impl Scripts {
    /// Reads every `*.js` file in `dir` and checks each once in a throwaway sandbox; a bad file fails the load, naming it.
    pub fn load_dir(dir: &Path, limits: &ScriptLimits) -> Result<Self, ScriptError> {
        let unreadable = |reason: std::io::Error| ScriptError::Load { name: dir.display().to_string(), reason: reason.to_string() };
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            if !path.is_file() || path.extension().is_none_or(|extension| extension != "js") {
                continue;
            }
            let name = path.file_stem().and_then(|stem| stem.to_str()).ok_or_else(|| ScriptError::Load {
                name: path.display().to_string(),
                reason: "the file name is not valid UTF-8".to_owned(),
            })?;
            let source = std::fs::read_to_string(&path).map_err(|e| ScriptError::Load { name: name.to_owned(), reason: e.to_string() })?;
            sources.push((name.to_owned(), source));
        }
        Self::from_sources(sources, limits)
    }

    /// Same as [`Scripts::load_dir`], from `(name, source)` pairs kept elsewhere.
    pub fn from_sources(sources: impl IntoIterator<Item = (String, String)>, limits: &ScriptLimits) -> Result<Self, ScriptError> {
        let mut scripts = BTreeMap::new();
        for (name, source) in sources {
            if scripts.contains_key(&name) {
                return Err(ScriptError::Load { name, reason: "two scripts have this name".to_owned() });
            }
            runtime::check(&name, &source, limits)?;
            scripts.insert(name, source);
        }
        Ok(Self { sources: scripts })
    }

    /// The handler names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.sources.keys().cloned().collect()
    }

    /// Whether a handler with this name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.sources.contains_key(name)
    }

    /// Runs handler `name` on `event` with `config` (the event setting's handlerConfig, or null), in a fresh runtime with the limits; returns the handler's (awaited) return value as JSON.
    pub fn run(
        &self,
        name: &str,
        event: &serde_json::Value,
        config: &serde_json::Value,
        api: &dyn HandlerApi,
        limits: &ScriptLimits,
    ) -> Result<serde_json::Value, ScriptError> {
        let source = self.sources.get(name).ok_or_else(|| ScriptError::NotFound(name.to_owned()))?;
        runtime::run(name, source, event, config, api, limits)
    }
}
