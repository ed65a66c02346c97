//! Seed 05's global email settings from the environment, the fallback of tenants without
//! their own email settings. They apply only when the configuration names no
//! `[channels.email]` (in the file or as `HERALD_CHANNELS__EMAIL__*`), which wins.
//!
//! | variable | meaning |
//! | --- | --- |
//! | `EMAIL_ENABLED` | `false` switches email off (the `disabled` provider); default `true` |
//! | `EMAIL_PROVIDER` | `smtp`, `ses`, `console` or `disabled`; default `smtp` when `EMAIL_SMTP_HOST` is set |
//! | `EMAIL_SMTP_HOST`, `EMAIL_SMTP_PORT` | the server (port default 587) |
//! | `EMAIL_SMTP_USER` (or `EMAIL_SMTP_USERNAME`), `EMAIL_SMTP_PASSWORD` | login |
//! | `EMAIL_SMTP_TLS` (or `EMAIL_SMTP_USE_TLS`) | STARTTLS, default `true`; `false` is a plain connection |
//! | `EMAIL_SMTP_SSL` (or `EMAIL_SMTP_USE_SSL`) | TLS from the first byte (port 465), default `false` |
//! | `EMAIL_FROM_ADDRESS` (or `EMAIL_FROM_EMAIL`), `EMAIL_FROM_NAME` | the sender |
//! | `EMAIL_REPLY_TO` | the `Reply-To` address |
//! | `EMAIL_SES_REGION` (or `AWS_REGION`), `EMAIL_SES_ENDPOINT` | SES's region and an endpoint override |
//! | `EMAIL_SES_ACCESS_KEY_ID`, `EMAIL_SES_SECRET_ACCESS_KEY`, `EMAIL_SES_SESSION_TOKEN` (or `AWS_*`) | SES's keys |
//! | `EMAIL_SES_CONFIGURATION_SET` | the SES configuration set |
//!
//! No variable set: email stays on the console provider, as every unconfigured channel.

use super::ConfigError;
use herald_channels::{ConsoleConfig, ProviderConfig, SesConfig, SmtpConfig, SmtpSecurity};
use herald_core::secrets::Secret;
use herald_core::values::EmailAddress;
use std::collections::HashMap;

/// The email provider the `EMAIL_*` variables of `environment` describe; `None` when none is
/// set.
pub(super) fn provider(environment: &HashMap<String, String>) -> Result<Option<ProviderConfig>, ConfigError> {
    let var = |names: &[&str]| names.iter().find_map(|name| environment.get(*name).filter(|v| !v.trim().is_empty()).cloned());
    if !environment.keys().any(|k| k.starts_with("EMAIL_")) {
        return Ok(None);
    }
    if !flag(var(&["EMAIL_ENABLED"]), "EMAIL_ENABLED", true)? {
        return Ok(Some(ProviderConfig::Disabled));
    }
    let host = var(&["EMAIL_SMTP_HOST"]);
    let kind = var(&["EMAIL_PROVIDER"]).map(|k| k.trim().to_ascii_lowercase());
    let kind = kind.as_deref().unwrap_or(if host.is_some() { "smtp" } else { "console" });
    let from = || -> Result<String, ConfigError> {
        let address = var(&["EMAIL_FROM_ADDRESS", "EMAIL_FROM_EMAIL"])
            .ok_or_else(|| ConfigError("EMAIL_FROM_ADDRESS: the sender address is required".into()))?;
        EmailAddress::parse(&address).map_err(|reason| ConfigError(format!("EMAIL_FROM_ADDRESS: {reason}")))?;
        Ok(match var(&["EMAIL_FROM_NAME"]) {
            Some(name) if name.chars().any(char::is_control) => {
                return Err(ConfigError("EMAIL_FROM_NAME: must not contain control characters".into()));
            }
            Some(name) => format!("\"{}\" <{address}>", name.replace('\\', "\\\\").replace('"', "\\\"")),
            None => address,
        })
    };
    let reply_to = var(&["EMAIL_REPLY_TO"])
        .map(|r| EmailAddress::parse(&r).map(|_| r).map_err(|reason| ConfigError(format!("EMAIL_REPLY_TO: {reason}"))))
        .transpose()?;
    let config = match kind {
        "console" => ProviderConfig::Console(ConsoleConfig { print: true }),
        "disabled" => ProviderConfig::Disabled,
        "smtp" => {
            let host = host.ok_or_else(|| ConfigError("EMAIL_SMTP_HOST: is required for the smtp provider".into()))?;
            let port = match var(&["EMAIL_SMTP_PORT"]) {
                Some(port) => port
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| ConfigError("EMAIL_SMTP_PORT: must be a port number".into()))?,
                None => 587,
            };
            let security = if flag(var(&["EMAIL_SMTP_SSL", "EMAIL_SMTP_USE_SSL"]), "EMAIL_SMTP_SSL", false)? {
                SmtpSecurity::Tls
            } else if flag(var(&["EMAIL_SMTP_TLS", "EMAIL_SMTP_USE_TLS"]), "EMAIL_SMTP_TLS", true)? {
                SmtpSecurity::Starttls
            } else {
                SmtpSecurity::Plain
            };
            ProviderConfig::Smtp(SmtpConfig {
                security,
                username: var(&["EMAIL_SMTP_USER", "EMAIL_SMTP_USERNAME"]),
                password: var(&["EMAIL_SMTP_PASSWORD"]).map(Secret::new),
                reply_to,
                ..SmtpConfig::new(host, port, from()?)
            })
        }
        "ses" => {
            let required =
                |names: &[&str]| var(names).ok_or_else(|| ConfigError(format!("{}: is required for the ses provider", names[0])));
            ProviderConfig::Ses(SesConfig {
                region: required(&["EMAIL_SES_REGION", "AWS_REGION"])?,
                endpoint: var(&["EMAIL_SES_ENDPOINT"]),
                access_key_id: required(&["EMAIL_SES_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"])?,
                secret_access_key: Secret::new(required(&["EMAIL_SES_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"])?),
                session_token: var(&["EMAIL_SES_SESSION_TOKEN", "AWS_SESSION_TOKEN"]).map(Secret::new),
                from: from()?,
                reply_to,
                configuration_set_name: var(&["EMAIL_SES_CONFIGURATION_SET"]),
                unsubscribe_url: None,
                unsubscribe_events: Vec::new(),
                timeout_seconds: 10,
            })
        }
        _ => return Err(ConfigError("EMAIL_PROVIDER: must be smtp, ses, console or disabled".into())),
    };
    Ok(Some(config))
}

/// A boolean variable (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), `default` when unset.
fn flag(value: Option<String>, name: &str, default: bool) -> Result<bool, ConfigError> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(ConfigError(format!("{name}: must be true or false"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn seed_05_smtp_variables_make_an_smtp_provider() {
        let config = provider(&env(&[
            ("EMAIL_ENABLED", "true"),
            ("EMAIL_PROVIDER", "smtp"),
            ("EMAIL_SMTP_HOST", "smtp.example.com"),
            ("EMAIL_SMTP_PORT", "2525"),
            ("EMAIL_SMTP_USER", "user@example.com"),
            ("EMAIL_SMTP_PASSWORD", "smtp-password-value"),
            ("EMAIL_SMTP_TLS", "true"),
            ("EMAIL_FROM_ADDRESS", "noreply@example.com"),
            ("EMAIL_FROM_NAME", "Dental \"Pin\""),
        ]))
        .unwrap();
        let Some(ProviderConfig::Smtp(smtp)) = config else { panic!("an smtp provider: {config:?}") };
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("smtp.example.com", 2525, SmtpSecurity::Starttls));
        assert_eq!(smtp.username.as_deref(), Some("user@example.com"));
        assert_eq!(smtp.password.as_ref().map(Secret::expose), Some("smtp-password-value"));
        assert_eq!(smtp.from, r#""Dental \"Pin\"" <noreply@example.com>"#);
        assert!(!format!("{smtp:?}").contains("smtp-password-value"));
    }

    #[test]
    fn the_field_names_of_the_settings_model_are_accepted_too() {
        let config = provider(&env(&[
            ("EMAIL_SMTP_HOST", "smtp.example.com"),
            ("EMAIL_SMTP_USERNAME", "u"),
            ("EMAIL_SMTP_USE_SSL", "true"),
            ("EMAIL_SMTP_PORT", "465"),
            ("EMAIL_FROM_EMAIL", "noreply@example.com"),
        ]))
        .unwrap();
        let Some(ProviderConfig::Smtp(smtp)) = config else { panic!("an smtp provider") };
        assert_eq!((smtp.security, smtp.port, smtp.username.as_deref()), (SmtpSecurity::Tls, 465, Some("u")));
        let Some(ProviderConfig::Smtp(plain)) =
            provider(&env(&[("EMAIL_SMTP_HOST", "relay"), ("EMAIL_SMTP_TLS", "false"), ("EMAIL_FROM_ADDRESS", "a@example.com")])).unwrap()
        else {
            panic!("an smtp provider")
        };
        assert_eq!((plain.security, plain.port), (SmtpSecurity::Plain, 587));
    }

    #[test]
    fn console_disabled_and_ses() {
        assert!(provider(&env(&[])).unwrap().is_none());
        assert!(matches!(
            provider(&env(&[("EMAIL_PROVIDER", "console")])).unwrap(),
            Some(ProviderConfig::Console(ConsoleConfig { print: true }))
        ));
        assert!(matches!(provider(&env(&[("EMAIL_PROVIDER", "disabled")])).unwrap(), Some(ProviderConfig::Disabled)));
        let off = provider(&env(&[("EMAIL_ENABLED", "false"), ("EMAIL_PROVIDER", "smtp")])).unwrap();
        assert!(matches!(off, Some(ProviderConfig::Disabled)));
        let ses = provider(&env(&[
            ("EMAIL_PROVIDER", "ses"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("EMAIL_SES_SECRET_ACCESS_KEY", "ses-secret-value"),
            ("EMAIL_FROM_ADDRESS", "noreply@example.com"),
            ("EMAIL_SES_CONFIGURATION_SET", "herald-events"),
        ]))
        .unwrap();
        let Some(ProviderConfig::Ses(ses)) = ses else { panic!("an ses provider") };
        assert_eq!((ses.region.as_str(), ses.access_key_id.as_str()), ("eu-west-1", "AKIAEXAMPLE"));
        assert_eq!(ses.configuration_set_name.as_deref(), Some("herald-events"));
        assert_eq!(ses.secret_access_key.expose(), "ses-secret-value");
    }

    #[test]
    fn bad_values_name_the_variable_and_never_a_secret() {
        let cases = [
            (vec![("EMAIL_PROVIDER", "pigeon")], "EMAIL_PROVIDER"),
            (vec![("EMAIL_ENABLED", "maybe")], "EMAIL_ENABLED"),
            (vec![("EMAIL_PROVIDER", "smtp")], "EMAIL_SMTP_HOST"),
            (vec![("EMAIL_SMTP_HOST", "h")], "EMAIL_FROM_ADDRESS"),
            (vec![("EMAIL_SMTP_HOST", "h"), ("EMAIL_FROM_ADDRESS", "nope")], "EMAIL_FROM_ADDRESS"),
            (vec![("EMAIL_SMTP_HOST", "h"), ("EMAIL_SMTP_PORT", "x"), ("EMAIL_FROM_ADDRESS", "a@example.com")], "EMAIL_SMTP_PORT"),
            (
                vec![("EMAIL_SMTP_HOST", "h"), ("EMAIL_FROM_ADDRESS", "a@example.com"), ("EMAIL_FROM_NAME", "A\r\nBcc: x@evil.test")],
                "EMAIL_FROM_NAME",
            ),
            (vec![("EMAIL_PROVIDER", "ses"), ("EMAIL_SES_SECRET_ACCESS_KEY", "ses-secret-value")], "EMAIL_SES_REGION"),
        ];
        for (vars, needle) in cases {
            let err = provider(&env(&vars)).unwrap_err().to_string();
            assert!(err.contains(needle) && !err.contains("ses-secret-value"), "{vars:?}: {err}");
        }
    }
}
