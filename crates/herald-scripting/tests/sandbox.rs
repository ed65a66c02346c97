//! Runs handler scripts through the public API: utils calls, results, errors and the sandbox's limits.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_scripting::{HandlerApi, ScriptError, ScriptLimits, Scripts};
use serde_json::{Value, json};

/// Records every call; `getRecipients` answers one recipient per id, `failing` answers an error.
#[derive(Default)]
struct FakeApi {
    calls: Mutex<Vec<(String, Vec<Value>)>>,
}

impl FakeApi {
    fn calls(&self) -> Vec<(String, Vec<Value>)> {
        self.calls.lock().unwrap().clone()
    }
}

impl HandlerApi for FakeApi {
    fn call(&self, function: &str, args: Vec<Value>) -> Result<Value, String> {
        self.calls.lock().unwrap().push((function.to_owned(), args.clone()));
        match function {
            "getRecipients" => {
                let ids = args[0]["ids"].as_array().cloned().unwrap_or_default();
                Ok(ids.iter().map(|id| json!({ "id": id, "email": format!("{}@clinic.test", id.as_str().unwrap()) })).collect())
            }
            _ => Err(format!("{function} is unavailable")),
        }
    }
}

fn scripts(name: &str, source: &str) -> Scripts {
    Scripts::from_sources([(name.to_owned(), source.to_owned())], &ScriptLimits::default()).unwrap()
}

fn run(source: &str, event: Value, config: Value, api: &FakeApi, limits: &ScriptLimits) -> Result<Value, ScriptError> {
    Scripts::from_sources([("test".to_owned(), source.to_owned())], &ScriptLimits::default())?.run("test", &event, &config, api, limits)
}

fn event() -> Value {
    json!({ "name": "AppointmentCreated", "payload": { "ids": ["ann", "bob"] } })
}

fn expected_notifications() -> Value {
    json!([
        { "to": "ann@clinic.test", "template": "reminder" },
        { "to": "bob@clinic.test", "template": "reminder" },
    ])
}

fn expected_calls() -> Vec<(String, Vec<Value>)> {
    vec![("getRecipients".to_owned(), vec![json!({ "ids": ["ann", "bob"] })])]
}

#[test]
fn sync_handler_calls_utils_and_returns_notifications() {
    let source = r#"
        function handler(event, utils) {
            const recipients = utils.getRecipients({ ids: event.payload.ids });
            utils.log("building " + recipients.length);
            return recipients.map((r) => ({ to: r.email, template: "reminder" }));
        }
    "#;
    let api = FakeApi::default();
    assert_eq!(run(source, event(), Value::Null, &api, &ScriptLimits::default()).unwrap(), expected_notifications());
    assert_eq!(api.calls(), expected_calls());
}

#[test]
fn async_handler_awaits_utils() {
    let source = r#"
        async function handler(event, utils) {
            const recipients = await utils.getRecipients({ ids: event.payload.ids });
            await Promise.resolve();
            return recipients.map((r) => ({ to: r.email, template: "reminder" }));
        }
    "#;
    let api = FakeApi::default();
    assert_eq!(run(source, event(), Value::Null, &api, &ScriptLimits::default()).unwrap(), expected_notifications());
    assert_eq!(api.calls(), expected_calls());
}

#[test]
fn config_is_passed_through() {
    let source = "const handler = (event, utils, config) => ({ config, missing: typeof config.nothing });";
    let config = json!({ "template": "welcome", "channels": ["email", "sms"], "retries": 3 });
    let result = run(source, event(), config.clone(), &FakeApi::default(), &ScriptLimits::default()).unwrap();
    assert_eq!(result, json!({ "config": config, "missing": "undefined" }));
}

#[test]
fn thrown_error_is_reported() {
    let source = "function handler() { throw new Error('boom'); }";
    let error = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Thrown(message) if message.contains("boom")), "{error:?}");
}

#[test]
fn rejected_promise_is_reported() {
    let source = "async function handler() { await null; throw new TypeError('late boom'); }";
    let error = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Thrown(message) if message.contains("TypeError: late boom")), "{error:?}");
}

#[test]
fn callbacks_the_handler_did_not_await_still_run() {
    let source = r#"
        function handler(event, utils) {
            Promise.resolve().then(() => utils.sendNotification({ to: "ann" }));
            return "sent later";
        }
    "#;
    let api = FakeApi::default();
    assert_eq!(run(source, event(), Value::Null, &api, &ScriptLimits::default()).unwrap(), json!("sent later"));
    assert_eq!(api.calls(), vec![("sendNotification".to_owned(), vec![json!({ "to": "ann" })])]);
}

#[test]
fn handler_api_error_is_a_catchable_exception() {
    let source = r#"
        async function handler(event, utils) {
            try {
                return await utils.sendMessages([{ to: "ann" }]);
            } catch (e) {
                return { fallback: e.message, isError: e instanceof Error };
            }
        }
    "#;
    let api = FakeApi::default();
    let result = run(source, event(), Value::Null, &api, &ScriptLimits::default()).unwrap();
    assert_eq!(result, json!({ "fallback": "sendMessages is unavailable", "isError": true }));
    assert_eq!(api.calls(), vec![("sendMessages".to_owned(), vec![json!([{ "to": "ann" }])])]);
}

#[test]
fn uncaught_handler_api_error_is_thrown() {
    let source = "function handler(event, utils) { return utils.setReminders({}); }";
    let error = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Thrown(message) if message.contains("setReminders is unavailable")), "{error:?}");
}

fn short_limits() -> ScriptLimits {
    ScriptLimits { timeout: Duration::from_millis(200), ..ScriptLimits::default() }
}

fn assert_times_out(source: &str) {
    let started = Instant::now();
    let error = run(source, event(), Value::Null, &FakeApi::default(), &short_limits()).unwrap_err();
    assert!(matches!(error, ScriptError::Timeout(limit) if limit == Duration::from_millis(200)), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

#[test]
fn endless_loop_times_out() {
    assert_times_out("function handler() { while (true) {} }");
}

#[test]
fn endless_loop_cannot_be_caught() {
    assert_times_out("function handler() { for (;;) { try { for (;;) {} } catch (e) {} } }");
}

#[test]
fn endless_loop_in_async_handler_times_out() {
    assert_times_out("async function handler(event, utils) { await utils.getRecipients({ ids: [] }); for (;;) {} }");
}

#[test]
fn endless_promise_chain_times_out() {
    // Each turn of the chain keeps the promises before it alive. On a fast machine the default
    // 32 MiB ran out before the 200 ms, and a reaction job that fails for want of memory leaves
    // the chain pending rather than rejected; with room to spare, time is the limit reached.
    let limits = ScriptLimits { memory_bytes: 1 << 30, ..short_limits() };
    let source = "function handler() { const spin = () => Promise.resolve().then(spin); return spin(); }";
    let error = run(source, event(), Value::Null, &FakeApi::default(), &limits).unwrap_err();
    assert!(matches!(error, ScriptError::Timeout(limit) if limit == Duration::from_millis(200)), "{error:?}");
}

#[test]
fn memory_grab_is_stopped() {
    let source = r#"
        function handler() {
            const hoard = [];
            for (;;) hoard.push("x".repeat(1 << 20));
        }
    "#;
    let limits = ScriptLimits { memory_bytes: 8 << 20, ..ScriptLimits::default() };
    let error = run(source, event(), Value::Null, &FakeApi::default(), &limits).unwrap_err();
    assert!(matches!(error, ScriptError::OutOfMemory), "{error:?}");
}

#[test]
fn deep_recursion_is_an_error_and_the_process_survives() {
    let source = "function handler() { const down = (n) => down(n + 1) + 1; return down(0); }";
    let error = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Thrown(message) if message.contains("stack")), "{error:?}");
    let after = run("function handler() { return 'still here'; }", event(), Value::Null, &FakeApi::default(), &ScriptLimits::default());
    assert_eq!(after.unwrap(), json!("still here"));
}

#[test]
fn load_dir_names_the_handlers_and_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("welcome.js"), "function handler() { return []; }").unwrap();
    std::fs::write(dir.path().join("appointment.js"), "async function handler() { return []; }").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a script {").unwrap();
    std::fs::create_dir(dir.path().join("nested.js")).unwrap();
    let scripts = Scripts::load_dir(dir.path(), &ScriptLimits::default()).unwrap();
    assert_eq!(scripts.names(), ["appointment", "welcome"]);
    assert!(scripts.contains("welcome") && !scripts.contains("notes"));
}

#[test]
fn syntax_error_fails_load_dir_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.js"), "function handler() { return []; }").unwrap();
    std::fs::write(dir.path().join("broken.js"), "function handler( { return [; }").unwrap();
    let error = Scripts::load_dir(dir.path(), &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Load { name, reason } if name == "broken" && reason.contains("SyntaxError")), "{error:?}");
    assert!(error.to_string().contains("broken"), "{error}");
}

#[test]
fn script_without_handler_fails_to_load() {
    let error = Scripts::from_sources([("empty".to_owned(), "function other() {}".to_owned())], &ScriptLimits::default()).unwrap_err();
    assert!(matches!(&error, ScriptError::Load { name, reason } if name == "empty" && reason.contains("handler")), "{error:?}");
}

#[test]
fn unknown_handler_is_not_found() {
    let error = scripts("known", "function handler() { return 1; }")
        .run("unknown", &event(), &Value::Null, &FakeApi::default(), &ScriptLimits::default())
        .unwrap_err();
    assert!(matches!(&error, ScriptError::NotFound(name) if name == "unknown"), "{error:?}");
}

#[test]
fn non_json_results_are_invalid() {
    for source in [
        "function handler() {}",
        "function handler() { return () => 1; }",
        "function handler() { return 10n; }",
        "function handler() { const loop = {}; loop.self = loop; return loop; }",
        "function handler() { return new Promise(() => {}); }",
    ] {
        let error = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap_err();
        assert!(matches!(error, ScriptError::InvalidResult(_)), "{source}: {error:?}");
    }
}

#[test]
fn runs_share_no_state() {
    let source = r#"
        var runs = (typeof runs === "number" ? runs : 0) + 1;
        function handler() {
            const before = typeof globalThis.leak;
            globalThis.leak = 1;
            Object.prototype.polluted = true;
            return [before, runs, typeof ({}).polluted];
        }
    "#;
    let scripts = scripts("leaky", source);
    let api = FakeApi::default();
    for _ in 0..2 {
        let result = scripts.run("leaky", &event(), &Value::Null, &api, &ScriptLimits::default()).unwrap();
        assert_eq!(result, json!(["undefined", 1, "boolean"]));
    }
}

#[test]
fn no_host_access_is_exposed() {
    let source = r#"
        function handler() {
            return ["require", "fetch", "std", "os", "process", "module", "setTimeout", "XMLHttpRequest", "Deno"]
                .map((name) => [name, eval("typeof " + name)]);
        }
    "#;
    let result = run(source, event(), Value::Null, &FakeApi::default(), &ScriptLimits::default()).unwrap();
    for pair in result.as_array().unwrap() {
        assert_eq!(pair[1], "undefined", "{pair}");
    }
}
