//! The QuickJS glue: a fresh, limited runtime per run, on a thread of its own.
//!
//! `utils` calls cannot borrow the caller's [`HandlerApi`] from inside the runtime (QuickJS functions must
//! be `'static`), so the script thread sends each call over a channel to the calling thread, which answers
//! it with the `HandlerApi` and waits for the next one until the script thread is done.

use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::function::Rest;
use rquickjs::{Coerced, Context, Ctx, Exception, Function, Object, Runtime, Value};

use crate::{HandlerApi, ScriptError, ScriptLimits, UTILITY_FUNCTIONS};

/// Native stack the script thread has beyond the JavaScript stack limit, for QuickJS's and Rust's own frames.
const STACK_HEADROOM: usize = 1 << 20;

/// Evaluates a script's top level in a throwaway sandbox and checks that it defines `handler`.
pub(crate) fn check(name: &str, source: &str, limits: &ScriptLimits) -> Result<(), ScriptError> {
    let checked = thread::scope(|scope| join(spawn(scope, limits, || sandbox(limits, |session| session.load(name, source).map(drop)))));
    checked.map_err(|error| match error {
        ScriptError::Load { .. } => error,
        ScriptError::Thrown(reason) => ScriptError::Load { name: name.to_owned(), reason },
        other => ScriptError::Load { name: name.to_owned(), reason: other.to_string() },
    })
}

/// Runs the script's `handler` on a script thread while this thread answers its `utils` calls.
pub(crate) fn run(
    name: &str,
    source: &str,
    event: &serde_json::Value,
    config: &serde_json::Value,
    api: &dyn HandlerApi,
    limits: &ScriptLimits,
) -> Result<serde_json::Value, ScriptError> {
    let (requests, incoming) = mpsc::channel::<Request>();
    let (replies, answers) = mpsc::channel();
    thread::scope(|scope| {
        let bridge = Bridge { requests, answers };
        let worker = spawn(scope, limits, move || {
            sandbox(limits, |session| {
                let handler = session.load(name, source)?;
                session.call(&handler, event, config, bridge)
            })
        });
        for Request { function, args } in incoming {
            if replies.send(api.call(function, args)).is_err() {
                break;
            }
        }
        join(worker)
    })
}

/// Starts `body` on a scoped thread with room for the JavaScript stack limit.
fn spawn<'scope, T: Send + 'scope>(
    scope: &'scope Scope<'scope, '_>,
    limits: &ScriptLimits,
    body: impl FnOnce() -> T + Send + 'scope,
) -> ScopedJoinHandle<'scope, T> {
    thread::Builder::new()
        .name("herald-script".to_owned())
        .stack_size(limits.stack_bytes + STACK_HEADROOM)
        .spawn_scoped(scope, body)
        .expect("the operating system refused to start a script thread")
}

/// Waits for a script thread, passing on its panic if it had one.
fn join<T>(worker: ScopedJoinHandle<'_, T>) -> T {
    worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// When the current run must stop.
#[derive(Clone, Copy)]
struct Deadline {
    start: Instant,
    timeout: Duration,
}

impl Deadline {
    fn expired(self) -> bool {
        self.start.elapsed() >= self.timeout
    }
}

/// Creates a runtime and context with the limits applied, runs `body` in it and drops both.
fn sandbox<R>(limits: &ScriptLimits, body: impl for<'js> FnOnce(Session<'js>) -> Result<R, ScriptError>) -> Result<R, ScriptError> {
    let deadline = Deadline { start: Instant::now(), timeout: limits.timeout };
    let runtime = Runtime::new().map_err(|_| ScriptError::OutOfMemory)?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(limits.stack_bytes);
    runtime.set_interrupt_handler(Some(Box::new(move || deadline.expired())));
    let context = Context::full(&runtime).map_err(|_| ScriptError::OutOfMemory)?;
    context.with(|ctx| body(Session { ctx, deadline }))
}

/// A context entered for one check or run.
struct Session<'js> {
    ctx: Ctx<'js>,
    deadline: Deadline,
}

impl<'js> Session<'js> {
    /// Evaluates the script (non-strict, as seed scripts expect) and returns its `handler` function.
    fn load(&self, name: &str, source: &str) -> Result<Function<'js>, ScriptError> {
        let mut options = EvalOptions::default();
        options.strict = false;
        options.filename = Some(format!("{name}.js"));
        self.ctx.eval_with_options::<(), _>(source, options).map_err(|e| self.fail(e))?;
        let handler: Option<Function> = self.ctx.eval("typeof handler === 'function' ? handler : undefined").map_err(|e| self.fail(e))?;
        handler.ok_or_else(|| ScriptError::Load { name: name.to_owned(), reason: "it defines no function named `handler`".to_owned() })
    }

    /// Calls `handler(event, utils, config)`, awaits a returned promise and converts the result to JSON.
    fn call(
        &self,
        handler: &Function<'js>,
        event: &serde_json::Value,
        config: &serde_json::Value,
        bridge: Bridge,
    ) -> Result<serde_json::Value, ScriptError> {
        let fail = |error: rquickjs::Error| self.fail(error);
        let args = (
            from_json(&self.ctx, event).map_err(fail)?,
            utils(&self.ctx, bridge).map_err(fail)?,
            from_json(&self.ctx, config).map_err(fail)?,
        );
        let returned: Value = handler.call(args).map_err(fail)?;
        let settled = self.settle(returned)?;
        let text = self
            .ctx
            .json_stringify(settled)
            .map_err(|e| match self.fail(e) {
                ScriptError::Thrown(reason) => ScriptError::InvalidResult(reason),
                other => other,
            })?
            .ok_or_else(|| ScriptError::InvalidResult("the handler returned undefined (or a function or symbol)".to_owned()))?;
        let text = text.to_string().map_err(fail)?;
        serde_json::from_str(&text).map_err(|e| ScriptError::InvalidResult(e.to_string()))
    }

    /// Runs the job queue dry within the deadline, then takes the outcome of a returned promise; other values pass through.
    fn settle(&self, returned: Value<'js>) -> Result<Value<'js>, ScriptError> {
        while self.ctx.execute_pending_job() {
            if self.deadline.expired() {
                return Err(ScriptError::Timeout(self.deadline.timeout));
            }
        }
        let Some(promise) = returned.as_promise() else {
            return Ok(returned);
        };
        match promise.result() {
            Some(result) => result.map_err(|e| self.fail(e)),
            None if self.deadline.expired() => Err(ScriptError::Timeout(self.deadline.timeout)),
            None => Err(ScriptError::InvalidResult("the handler's promise never settles".to_owned())),
        }
    }

    /// Turns an engine error into the reason the run stopped, taking the pending exception if there is one.
    fn fail(&self, error: rquickjs::Error) -> ScriptError {
        if self.deadline.expired() {
            return ScriptError::Timeout(self.deadline.timeout);
        }
        match error {
            rquickjs::Error::Allocation => ScriptError::OutOfMemory,
            rquickjs::Error::Exception => {
                let thrown = self.ctx.catch();
                let out_of_memory = thrown.as_exception().is_some_and(|e| e.message().as_deref() == Some("out of memory"));
                if out_of_memory { ScriptError::OutOfMemory } else { ScriptError::Thrown(describe(&self.ctx, thrown)) }
            }
            other => ScriptError::Thrown(other.to_string()),
        }
    }
}

/// A thrown value as text: `Name: message (at frame)` for errors, the string itself, or its JSON.
fn describe<'js>(ctx: &Ctx<'js>, thrown: Value<'js>) -> String {
    if let Some(error) = thrown.as_exception() {
        let text = thrown.get::<Coerced<String>>().map(|text| text.0).unwrap_or_else(|_| error.message().unwrap_or_default());
        let frame = error.stack().and_then(|stack| stack.lines().map(str::trim).find(|line| !line.is_empty()).map(str::to_owned));
        return match frame {
            Some(frame) => format!("{text} ({frame})"),
            None => text,
        };
    }
    if let Some(text) = thrown.as_string().and_then(|text| text.to_string().ok()) {
        return text;
    }
    let json = ctx.json_stringify(thrown.clone()).ok().flatten().and_then(|json| json.to_string().ok());
    json.unwrap_or_else(|| format!("a thrown {}", thrown.type_name()))
}

fn from_json<'js>(ctx: &Ctx<'js>, value: &serde_json::Value) -> rquickjs::Result<Value<'js>> {
    ctx.json_parse(value.to_string())
}

fn to_json<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<serde_json::Value> {
    match ctx.json_stringify(value)? {
        Some(text) => serde_json::from_str(&text.to_string()?).map_err(|e| Exception::throw_type(ctx, &e.to_string())),
        None => Ok(serde_json::Value::Null),
    }
}

/// The `utils` object: one function per utility, forwarded over the bridge, and `log`, which drops its message.
fn utils<'js>(ctx: &Ctx<'js>, bridge: Bridge) -> rquickjs::Result<Object<'js>> {
    let bridge = Rc::new(bridge);
    let utils = Object::new(ctx.clone())?;
    for &function in UTILITY_FUNCTIONS {
        let bridge = Rc::clone(&bridge);
        let forward = move |ctx: Ctx<'js>, args: Rest<Value<'js>>| bridge.call(&ctx, function, args);
        utils.set(function, Function::new(ctx.clone(), forward)?.with_name(function)?)?;
    }
    utils.set("log", Function::new(ctx.clone(), |_: Rest<Value<'js>>| ())?.with_name("log")?)?;
    Ok(utils)
}

/// One `utils` call on its way to the calling thread.
struct Request {
    function: &'static str,
    args: Vec<serde_json::Value>,
}

/// The script thread's end of the channels to the thread holding the `HandlerApi`.
struct Bridge {
    requests: Sender<Request>,
    answers: Receiver<Result<serde_json::Value, String>>,
}

impl Bridge {
    /// Sends the call and waits for its answer; an `Err` answer is thrown as an `Error` with that message.
    fn call<'js>(&self, ctx: &Ctx<'js>, function: &'static str, args: Rest<Value<'js>>) -> rquickjs::Result<Value<'js>> {
        let args = args.0.into_iter().map(|arg| to_json(ctx, arg)).collect::<rquickjs::Result<_>>()?;
        let answer = self.requests.send(Request { function, args }).ok().and_then(|()| self.answers.recv().ok());
        match answer {
            Some(Ok(value)) => from_json(ctx, &value),
            Some(Err(message)) => Err(Exception::throw_message(ctx, &message)),
            None => Err(Exception::throw_internal(ctx, "the handler API is gone")),
        }
    }
}
