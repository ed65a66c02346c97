//! Jinja2 templates (MiniJinja), for templates written as seed 05's clinic templates are.
//!
//! The context holds `data`, `user` and `tenant`, and also every key of `data` at the top level
//! (`{{ patient_name }}`); `data`, `user` and `tenant` win over data keys of the same name.
//!
//! The environment is a sandbox: MiniJinja is built without its loader and without
//! `include`/`import`/`extends` (the `multi_template` feature), so a template reaches no file;
//! each render has a fuel budget (instructions) and the default recursion limit, and its output
//! goes to a writer that refuses more than [`MAX_OUTPUT`] bytes.
//!
//! Undefined values are semi-strict: printing, iterating or reading an attribute of a missing
//! variable fails the message, while `{% if reason %}` treats a missing variable as false, so
//! optional parts of a message can still be written as seed 05's templates do.
//! `emailHtmlMessage` is HTML-escaped automatically (`{{ x|safe }}` opts out); text fields are
//! not.

use super::MAX_OUTPUT;
use crate::Invalid;
use minijinja::{AutoEscape, Environment, Error, Template, UndefinedBehavior, Value};
use std::io;
use std::sync::OnceLock;

/// Instructions one field's render may execute: far above any real message, low enough to stop
/// runaway loops quickly.
const FUEL: u64 = 250_000;

/// The one field whose output is HTML, and so escaped.
const HTML_FIELD: &str = "emailHtmlMessage";

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        environment.set_fuel(Some(FUEL));
        environment.set_auto_escape_callback(|field| if field == HTML_FIELD { AutoEscape::Html } else { AutoEscape::None });
        environment
    })
}

/// The Jinja context for `data`, `user` and `tenant`.
pub(super) fn context(data: &serde_json::Value, user: &serde_json::Value, tenant: &serde_json::Value) -> Value {
    let mut root = data.as_object().cloned().unwrap_or_default();
    root.insert("data".into(), data.clone());
    root.insert("user".into(), user.clone());
    root.insert("tenant".into(), tenant.clone());
    Value::from_serialize(&root)
}

/// Checks that `text` compiles; the error names `field` and the line.
pub(super) fn check(field: &str, text: &str) -> Result<(), Invalid> {
    compile(field, text).map(drop)
}

fn compile<'a>(field: &'a str, text: &'a str) -> Result<Template<'a, 'a>, Invalid> {
    environment().template_from_named_str(field, text).map_err(|e| Invalid::new(field, format!("does not compile: {}", describe(&e))))
}

/// Renders `text` (the value of `field`) with `context`.
pub(super) fn render(field: &str, text: &str, context: &Value) -> Result<String, Invalid> {
    let mut output = Capped::default();
    if let Err(e) = compile(field, text)?.render_captured_to(context, &mut output) {
        if output.overflowed {
            return Err(Invalid::new(field, format!("renders to more than {MAX_OUTPUT} bytes")));
        }
        return Err(Invalid::new(field, format!("cannot be rendered: {}", describe(&e))));
    }
    String::from_utf8(output.bytes).map_err(|_| Invalid::new(field, "cannot be rendered: the output is not UTF-8"))
}

/// The error's kind and detail, with its line; never the template's values.
fn describe(error: &Error) -> String {
    let what = match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    };
    match error.line() {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

/// A buffer that fails the write that would take it past [`MAX_OUTPUT`], and remembers it.
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + bytes.len() > MAX_OUTPUT {
            self.overflowed = true;
            return Err(io::Error::other("output too large"));
        }
        self.bytes.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
