use super::bearer_token;
use crate::config::{AuthConfig, GatewayConfig, JwtAlgorithm, JwtConfig};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use herald_core::json::one_or_many;
use herald_core::values::TenantSlug;
use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// A patient or staff member calling the user-facing endpoints as themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndUser {
    /// Their tenant.
    pub tenant: String,
    /// Their user id (the JWT `sub`).
    pub id: String,
    /// Groups they belong to.
    pub groups: Vec<String>,
    /// Roles they have.
    pub roles: Vec<String>,
    /// Clusters they belong to.
    pub clusters: Vec<String>,
}

/// Verifies end-user credentials as configured: JWT bearer tokens and/or gateway headers.
pub struct EndUserAuth {
    jwt: Option<(DecodingKey, Validation, JwtConfig)>,
    gateway: Option<GatewayConfig>,
}

impl EndUserAuth {
    /// Prepares verification from configuration (reading a key file if one is named).
    pub fn from_config(config: &AuthConfig) -> anyhow::Result<Self> {
        let jwt = match &config.jwt {
            None => None,
            Some(jwt) => {
                let pem = match (&jwt.public_key_pem, &jwt.public_key_file) {
                    (Some(pem), _) => Some(pem.clone().into_bytes()),
                    (None, Some(file)) => Some(
                        std::fs::read(file)
                            .map_err(|e| anyhow::anyhow!("auth.jwt.public_key_file: cannot read {}: {e}", file.display()))?,
                    ),
                    (None, None) => None,
                };
                let (key, algorithm) = match jwt.algorithm {
                    JwtAlgorithm::HS256 => {
                        (DecodingKey::from_secret(jwt.secret.as_ref().map(|s| s.expose()).unwrap_or_default().as_bytes()), Algorithm::HS256)
                    }
                    JwtAlgorithm::RS256 => (
                        DecodingKey::from_rsa_pem(&pem.unwrap_or_default()).map_err(|e| anyhow::anyhow!("auth.jwt.public_key_pem: {e}"))?,
                        Algorithm::RS256,
                    ),
                    JwtAlgorithm::ES256 => (
                        DecodingKey::from_ec_pem(&pem.unwrap_or_default()).map_err(|e| anyhow::anyhow!("auth.jwt.public_key_pem: {e}"))?,
                        Algorithm::ES256,
                    ),
                };
                let mut validation = Validation::new(algorithm);
                // Expiry is checked against Herald's injected clock below, not the system's.
                validation.validate_exp = false;
                validation.required_spec_claims = ["sub".to_string()].into();
                match &jwt.audience {
                    Some(audience) => validation.set_audience(&[audience]),
                    None => validation.validate_aud = false,
                }
                if let Some(issuer) = &jwt.issuer {
                    validation.set_issuer(&[issuer]);
                }
                Some((key, validation, jwt.clone()))
            }
        };
        Ok(Self { jwt, gateway: config.gateway.clone() })
    }

    /// Identifies the end user from request headers at time `now`.
    pub fn authenticate(&self, headers: &HeaderMap, now: Timestamp) -> Result<EndUser, ApiError> {
        if let Some(token) = bearer_token(headers) {
            let Some((key, validation, config)) = &self.jwt else {
                return Err(ApiError::unauthorized("bearer tokens are not accepted: no JWT verification is configured"));
            };
            return verify_jwt(token, key, validation, config, now);
        }
        if let Some(gateway) = &self.gateway
            && headers.contains_key(gateway.user_header.as_str())
        {
            return from_gateway(headers, gateway);
        }
        Err(ApiError::unauthorized("a user token is required: Authorization: Bearer <JWT>"))
    }
}

fn verify_jwt(token: &str, key: &DecodingKey, validation: &Validation, config: &JwtConfig, now: Timestamp) -> Result<EndUser, ApiError> {
    let invalid = |why: &str| ApiError::unauthorized(format!("the user token is not valid: {why}"));
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => invalid("bad signature"),
            ErrorKind::InvalidAlgorithm => invalid("unexpected algorithm"),
            ErrorKind::InvalidIssuer => invalid("wrong issuer"),
            ErrorKind::InvalidAudience => invalid("wrong audience"),
            ErrorKind::MissingRequiredClaim(claim) => invalid(&format!("missing claim {claim}")),
            _ => invalid("malformed token"),
        }
    })?;
    let claims = data.claims;
    let leeway = config.leeway_seconds as i64;
    let seconds = |name: &str| claims.get(name).and_then(Value::as_i64);
    match seconds("exp") {
        None => return Err(invalid("missing claim exp")),
        Some(exp) if exp + leeway < now.as_second() => return Err(invalid("expired")),
        _ => {}
    }
    if seconds("nbf").is_some_and(|nbf| nbf - leeway > now.as_second()) {
        return Err(invalid("not valid yet"));
    }
    let id =
        claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).ok_or_else(|| invalid("sub must be a non-empty string"))?;
    let tenant = claims
        .get(&config.tenant_claim)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(&format!("missing claim {}", config.tenant_claim)))?;
    let tenant = TenantSlug::parse(tenant).map_err(|_| invalid(&format!("claim {} is not a tenant slug", config.tenant_claim)))?;
    let list = |name: &str| one_or_many(claims.get(name));
    Ok(EndUser {
        tenant: tenant.to_string(),
        id: id.to_string(),
        groups: list(&config.groups_claim),
        roles: list(&config.roles_claim),
        clusters: list(&config.clusters_claim),
    })
}

fn from_gateway(headers: &HeaderMap, gateway: &GatewayConfig) -> Result<EndUser, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let list = |name: &str| {
        header(name).map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    };
    let id = header(&gateway.user_header).ok_or_else(|| ApiError::unauthorized(format!("the {} header is empty", gateway.user_header)))?;
    let tenant = header(&gateway.tenant_header)
        .ok_or_else(|| ApiError::unauthorized(format!("the {} header is required", gateway.tenant_header)))?;
    let tenant = TenantSlug::parse(tenant)
        .map_err(|_| ApiError::unauthorized(format!("the {} header is not a tenant slug", gateway.tenant_header)))?;
    Ok(EndUser {
        tenant: tenant.to_string(),
        id: id.to_string(),
        groups: list(&gateway.groups_header),
        roles: list(&gateway.roles_header),
        clusters: list(&gateway.clusters_header),
    })
}

impl FromRequestParts<AppState> for EndUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        state.end_users().authenticate(&parts.headers, state.clock().now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use axum::http::HeaderValue;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const HS_SECRET: &str = "a-test-secret-of-at-least-32-chars!!";
    const NOW: i64 = 1_800_000_000;

    fn jwt_config(algorithm: JwtAlgorithm) -> JwtConfig {
        JwtConfig {
            algorithm,
            public_key_pem: match algorithm {
                JwtAlgorithm::RS256 => Some(include_str!("../../tests/fixtures/jwt-rs256.pub.pem").into()),
                JwtAlgorithm::ES256 => Some(include_str!("../../tests/fixtures/jwt-es256.pub.pem").into()),
                JwtAlgorithm::HS256 => None,
            },
            issuer: Some("https://idp.example".into()),
            ..JwtConfig::hs256(Secret::new(HS_SECRET))
        }
    }

    fn auth(algorithm: JwtAlgorithm, gateway: bool) -> EndUserAuth {
        let gateway = gateway.then(|| serde_json::from_value(json!({})).unwrap());
        EndUserAuth::from_config(&AuthConfig { jwt: Some(jwt_config(algorithm)), gateway }).unwrap()
    }

    fn claims() -> Value {
        json!({"sub": "patient-1", "tenant": "clinic-a", "groups": ["patients"], "roles": "patient", "iss": "https://idp.example", "exp": NOW + 600})
    }

    fn token(algorithm: Algorithm, claims: &Value) -> String {
        let key = match algorithm {
            Algorithm::HS256 => EncodingKey::from_secret(HS_SECRET.as_bytes()),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(include_bytes!("../../tests/fixtures/jwt-rs256.key.pem")).unwrap(),
            _ => EncodingKey::from_ec_pem(include_bytes!("../../tests/fixtures/jwt-es256.key.pem")).unwrap(),
        };
        jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        headers
    }

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).unwrap()
    }

    #[test]
    fn accepts_each_algorithm() {
        for (config, algorithm) in
            [(JwtAlgorithm::HS256, Algorithm::HS256), (JwtAlgorithm::RS256, Algorithm::RS256), (JwtAlgorithm::ES256, Algorithm::ES256)]
        {
            let user = auth(config, false).authenticate(&bearer(&token(algorithm, &claims())), now()).unwrap();
            assert_eq!(
                user,
                EndUser {
                    tenant: "clinic-a".into(),
                    id: "patient-1".into(),
                    groups: vec!["patients".into()],
                    roles: vec!["patient".into()],
                    clusters: vec![]
                }
            );
        }
    }

    #[test]
    fn refuses_bad_tokens() {
        let auth = auth(JwtAlgorithm::HS256, false);
        let with = |key: &str, value: Value| {
            let mut c = claims();
            c[key] = value;
            c
        };
        let mut no_tenant = claims();
        no_tenant.as_object_mut().unwrap().remove("tenant");
        let cases = [
            (token(Algorithm::HS256, &with("exp", json!(NOW - 31))), "expired"),
            (token(Algorithm::HS256, &with("nbf", json!(NOW + 60))), "not valid yet"),
            (token(Algorithm::HS256, &with("iss", json!("https://evil"))), "issuer"),
            (token(Algorithm::HS256, &no_tenant), "missing claim tenant"),
            (token(Algorithm::HS256, &with("tenant", json!("Not A Slug"))), "tenant slug"),
            (token(Algorithm::RS256, &claims()), "algorithm"),
            (format!("{}x", token(Algorithm::HS256, &claims())), "signature"),
            ("not.a.jwt".to_string(), "malformed"),
        ];
        for (token, why) in cases {
            let err = auth.authenticate(&bearer(&token), now()).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::UNAUTHORIZED);
            assert!(format!("{err:?}").contains(why), "{why}: {err:?}");
        }
        assert!(
            auth.authenticate(
                &bearer(&token(Algorithm::HS256, &claims())),
                now().checked_add(jiff::SignedDuration::from_secs(629)).unwrap()
            )
            .is_ok(),
            "leeway applies"
        );
    }

    #[test]
    fn gateway_headers_only_when_configured() {
        let mut headers = HeaderMap::new();
        headers.insert("x-user-id", HeaderValue::from_static("staff-7"));
        headers.insert("x-tenant-id", HeaderValue::from_static("clinic-b"));
        headers.insert("x-user-groups", HeaderValue::from_static("doctors, nurses"));
        let user = auth(JwtAlgorithm::HS256, true).authenticate(&headers, now()).unwrap();
        assert_eq!((user.id.as_str(), user.tenant.as_str(), user.groups.len()), ("staff-7", "clinic-b", 2));
        assert!(auth(JwtAlgorithm::HS256, false).authenticate(&headers, now()).is_err(), "headers are not trusted unless configured");
        headers.remove("x-tenant-id");
        assert!(auth(JwtAlgorithm::HS256, true).authenticate(&headers, now()).is_err());
    }

    #[test]
    fn no_credentials_is_unauthorized() {
        assert_eq!(
            auth(JwtAlgorithm::HS256, true).authenticate(&HeaderMap::new(), now()).unwrap_err().status(),
            axum::http::StatusCode::UNAUTHORIZED
        );
    }
}
