//! AWS Signature Version 4 for requests with their whole body in hand (what SES's JSON API
//! needs; no streaming, no presigned URLs): the canonical request (method, URI path, sorted
//! query, lower-cased sorted headers with trimmed values, SHA-256 of the payload), the string
//! to sign over the credential scope `date/region/service/aws4_request`, the signing key
//! derived by four HMAC-SHA256 steps from `AWS4` + the secret, and the `Authorization` header.
//! Checked against AWS's published SigV4 test suite vectors.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::{Digest, Sha256};

/// Keys that sign requests.
#[derive(Clone, Debug)]
pub struct Credentials<'a> {
    /// The access key id (`AKIA…`).
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    pub session_token: Option<&'a str>,
}

/// Where and what is signed for.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// The region (`eu-west-1`).
    pub region: &'a str,
    /// The service's signing name (`ses`).
    pub service: &'a str,
}

/// One request to sign.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// `GET`, `POST`.
    pub method: &'a str,
    /// The URI path, already percent-encoded (`/v2/email/outbound-emails`).
    pub path: &'a str,
    /// The query string, already percent-encoded, without `?` (empty for none).
    pub query: &'a str,
    /// The headers to sign, `host` among them.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub payload: &'a [u8],
}

/// The headers to add to `request` so AWS accepts it at `at`: `x-amz-date`,
/// `x-amz-security-token` with a session token, and `authorization`.
pub fn sign(credentials: &Credentials<'_>, scope: Scope<'_>, at: Timestamp, request: &Request<'_>) -> Vec<(String, String)> {
    let amz_date = at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut added = vec![("x-amz-date".to_string(), amz_date.clone())];
    if let Some(token) = credentials.session_token {
        added.push(("x-amz-security-token".to_string(), token.to_string()));
    }
    let mut headers: Vec<(String, String)> =
        request.headers.iter().chain(&added).map(|(n, v)| (n.to_ascii_lowercase(), trim_all(v))).collect();
    headers.sort();
    let signature = signature(credentials.secret_access_key, scope, &amz_date, request, &headers);
    let signed_headers = signed_header_names(&headers);
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{}/{}/{}/aws4_request, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id,
        &amz_date[..8],
        scope.region,
        scope.service
    );
    added.push(("authorization".to_string(), authorization));
    added
}

/// The hex signature of `request` whose (lower-cased, sorted) `headers` include `x-amz-date`
/// = `amz_date`.
pub fn signature(secret: &str, scope: Scope<'_>, amz_date: &str, request: &Request<'_>, headers: &[(String, String)]) -> String {
    let date = &amz_date[..8];
    let canonical = canonical_request(request, headers);
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{}/{}/aws4_request\n{}",
        scope.region,
        scope.service,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    hex::encode(hmac(&key, string_to_sign.as_bytes()))
}

/// `host;x-amz-date;…` of sorted lower-cased headers.
pub fn signed_header_names(headers: &[(String, String)]) -> String {
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    names.dedup();
    names.join(";")
}

fn canonical_request(request: &Request<'_>, headers: &[(String, String)]) -> String {
    let mut query: Vec<&str> = request.query.split('&').filter(|p| !p.is_empty()).collect();
    query.sort();
    let mut canonical_headers = String::new();
    for (i, (name, value)) in headers.iter().enumerate() {
        if i > 0 && headers[i - 1].0 == *name {
            canonical_headers.push(',');
        } else {
            if i > 0 {
                canonical_headers.push('\n');
            }
            canonical_headers.push_str(name);
            canonical_headers.push(':');
        }
        canonical_headers.push_str(value);
    }
    format!(
        "{}\n{}\n{}\n{canonical_headers}\n\n{}\n{}",
        request.method,
        if request.path.is_empty() { "/" } else { request.path },
        query.join("&"),
        signed_header_names(headers),
        hex::encode(Sha256::digest(request.payload))
    )
}

/// A header value with leading and trailing spaces removed and inner runs of spaces made one.
fn trim_all(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The credentials, scope and time of AWS's SigV4 test suite.
    const SUITE: Credentials<'static> =
        Credentials { access_key_id: "AKIDEXAMPLE", secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token: None };
    const SCOPE: Scope<'static> = Scope { region: "us-east-1", service: "service" };

    fn suite_authorization(method: &str, query: &str, extra: &[(&str, &str)], payload: &[u8]) -> String {
        let mut headers = vec![("Host".to_string(), "example.amazonaws.com".to_string())];
        headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let request = Request { method, path: "/", query, headers, payload };
        let at: Timestamp = "2015-08-30T12:36:00Z".parse().unwrap();
        let added = sign(&SUITE, SCOPE, at, &request);
        assert_eq!(added[0], ("x-amz-date".to_string(), "20150830T123600Z".to_string()));
        added.into_iter().find(|(n, _)| n == "authorization").unwrap().1
    }

    const CREDENTIAL: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

    #[test]
    fn matches_the_published_test_suite() {
        let cases = [
            (
                "get-vanilla",
                "GET",
                "",
                vec![],
                &b""[..],
                "host;x-amz-date",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "get-vanilla-query-order-key-case",
                "GET",
                "Param2=value2&Param1=value1",
                vec![],
                &b""[..],
                "host;x-amz-date",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "post-vanilla",
                "POST",
                "",
                vec![],
                &b""[..],
                "host;x-amz-date",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
            (
                "post-x-www-form-urlencoded",
                "POST",
                "",
                vec![("Content-Type", "application/x-www-form-urlencoded")],
                &b"Param1=value1"[..],
                "content-type;host;x-amz-date",
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            ),
        ];
        for (name, method, query, extra, payload, signed, expected) in cases {
            assert_eq!(
                suite_authorization(method, query, &extra, payload),
                format!("{CREDENTIAL}SignedHeaders={signed}, Signature={expected}"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let credentials = Credentials { session_token: Some("token"), ..SUITE };
        let request =
            Request { method: "GET", path: "/", query: "", headers: vec![("host".into(), "example.amazonaws.com".into())], payload: b"" };
        let added = sign(&credentials, SCOPE, "2015-08-30T12:36:00Z".parse().unwrap(), &request);
        assert!(added.contains(&("x-amz-security-token".to_string(), "token".to_string())));
        let authorization = &added.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"), "{authorization}");
    }
}
