//! `dateNow`, `dateFormat` and `toLocale`.

use handlebars::{Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;

/// Adds Herald's helpers to `handlebars`.
pub(super) fn register(handlebars: &mut Handlebars<'static>) {
    handlebars.register_helper("dateNow", Box::new(date_now));
    handlebars.register_helper("dateFormat", Box::new(date_format));
    handlebars.register_helper("toLocale", Box::new(to_locale));
}

fn herald<'a>(context: &'a Context, key: &str) -> Option<&'a str> {
    context.data().get("_herald")?.get(key)?.as_str()
}

fn bad(helper: &str, why: impl Into<String>) -> RenderErrorReason {
    RenderErrorReason::Other(format!("{helper}: {}", why.into()))
}

/// `{{dateNow}}`: now, ISO 8601 (or formatted with `format=` and `tz=`).
fn date_now(h: &Helper, _: &Handlebars, context: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let now = herald(context, "now").ok_or_else(|| bad("dateNow", "no clock"))?;
    let formatted = format_date("dateNow", now, h)?;
    out.write(&formatted)?;
    Ok(())
}

/// `{{dateFormat value format="DD/MM/YYYY HH:mm" tz="Europe/Rome"}}`.
fn date_format(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let value = h.param(0).and_then(|p| p.value().as_str()).ok_or_else(|| bad("dateFormat", "needs a date"))?;
    let formatted = format_date("dateFormat", value, h)?;
    out.write(&formatted)?;
    Ok(())
}

fn format_date(helper: &str, value: &str, h: &Helper) -> Result<String, RenderErrorReason> {
    let timestamp: Timestamp = value.parse().map_err(|_| bad(helper, "not an ISO 8601 date-time"))?;
    let zone = match h.hash_get("tz").and_then(|v| v.value().as_str()) {
        Some(name) => TimeZone::get(name).map_err(|_| bad(helper, "unknown time zone"))?,
        None => TimeZone::UTC,
    };
    let zoned = timestamp.to_zoned(zone);
    match h.hash_get("format").and_then(|v| v.value().as_str()) {
        None => Ok(crate::document::format_timestamp(zoned.timestamp())),
        Some(format) => Ok(zoned.strftime(&strftime_of(format)).to_string()),
    }
}

/// Day.js-style formats (`DD/MM/YYYY HH:mm`) become strftime; a format with `%` is strftime
/// already.
fn strftime_of(format: &str) -> String {
    if format.contains('%') {
        return format.to_string();
    }
    let tokens = [
        ("YYYY", "%Y"),
        ("YY", "%y"),
        ("MMMM", "%B"),
        ("MMM", "%b"),
        ("MM", "%m"),
        ("DD", "%d"),
        ("dddd", "%A"),
        ("ddd", "%a"),
        ("HH", "%H"),
        ("hh", "%I"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("A", "%p"),
    ];
    let mut out = String::new();
    let mut rest = format;
    'outer: while !rest.is_empty() {
        for (token, replacement) in tokens {
            if let Some(after) = rest.strip_prefix(token) {
                out.push_str(replacement);
                rest = after;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `{{toLocale value locale="it"}}`: numbers with the locale's separators, dates as the
/// locale's short date.
fn to_locale(h: &Helper, _: &Handlebars, context: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let value = h.param(0).map(|p| p.value().clone()).ok_or_else(|| bad("toLocale", "needs a value"))?;
    let locale =
        h.hash_get("locale").and_then(|v| v.value().as_str()).or_else(|| herald(context, "locale")).unwrap_or("en").to_ascii_lowercase();
    let comma_decimal = !(locale.starts_with("en") || locale.starts_with("ja") || locale.starts_with("zh"));
    let text = match &value {
        Value::Number(n) => format_number(n.as_f64().unwrap_or_default(), comma_decimal),
        Value::String(s) => match s.parse::<Timestamp>() {
            Ok(ts) => {
                let date = ts.to_zoned(TimeZone::UTC).date();
                if locale == "en-us" || locale == "en" {
                    format!("{}/{}/{}", date.month(), date.day(), date.year())
                } else {
                    format!("{:02}/{:02}/{}", date.day(), date.month(), date.year())
                }
            }
            Err(_) => s.parse::<f64>().map(|n| format_number(n, comma_decimal)).unwrap_or_else(|_| s.clone()),
        },
        other => other.to_string(),
    };
    out.write(&text)?;
    Ok(())
}

fn format_number(n: f64, comma_decimal: bool) -> String {
    let (group, decimal) = if comma_decimal { ('.', ',') } else { (',', '.') };
    let rounded = format!("{:.2}", n.abs());
    let (whole, fraction) = rounded.split_once('.').expect("two decimals");
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if n < 0.0 { "-" } else { "" };
    if fraction == "00" { format!("{sign}{grouped}") } else { format!("{sign}{grouped}{decimal}{fraction}") }
}
