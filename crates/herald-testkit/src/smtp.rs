//! A real SMTP server for tests (mailin-embedded, on a thread, port 0) that keeps every
//! message it receives. A client's `DATA` is answered only once the message is stored, so a
//! test that waited for its send to finish can read the message at once.
//!
//! It can also offer STARTTLS and require `AUTH PLAIN` (which it accepts only inside TLS), and
//! be reached through implicit TLS (a TLS front on its own port, as on port 465). Its
//! certificate, for `localhost` and `127.0.0.1`, is signed by [`TEST_CA_PEM`], which clients
//! must be told to trust.

use mailin_embedded::response::{AUTH_OK, INVALID_CREDENTIALS, OK};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig};
use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_rustls::rustls;

/// The certificate authority that signed the sink's TLS certificate (PEM).
pub const TEST_CA_PEM: &str = include_str!("../fixtures/smtp-ca.pem");

/// The sink's certificate and key files.
const CERT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/smtp-server.pem");
const KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/smtp-server.key");

/// What the sink asks of its clients.
#[derive(Clone, Debug, Default)]
pub struct SinkOptions {
    /// Offer STARTTLS.
    pub starttls: bool,
    /// Require `AUTH PLAIN` with this user and password (offered only after STARTTLS).
    pub credentials: Option<(String, String)>,
}

/// Sessions served at once: each open client connection (a pooled one too) holds a thread.
const SESSIONS: u32 = 64;

/// One received message: the envelope, the raw RFC 5322 text and when it was complete.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMail {
    /// `MAIL FROM`.
    pub from: String,
    /// Every `RCPT TO`.
    pub to: Vec<String>,
    /// Headers and body, as sent.
    pub data: Vec<u8>,
    /// When its `DATA` ended.
    pub arrived_at: Instant,
}

impl Default for ReceivedMail {
    fn default() -> Self {
        Self { from: String::new(), to: Vec::new(), data: Vec::new(), arrived_at: Instant::now() }
    }
}

/// The running server.
pub struct SmtpSink {
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    logins: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Keeper {
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    current: ReceivedMail,
    credentials: Option<(String, String)>,
    logins: Arc<Mutex<Vec<String>>>,
}

impl Handler for Keeper {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = ReceivedMail { from: from.to_string(), to: to.to_vec(), ..ReceivedMail::default() };
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut mail = std::mem::take(&mut self.current);
        mail.arrived_at = Instant::now();
        self.received.lock().expect("the mailbox is never poisoned").push(mail);
        OK
    }

    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        OK
    }

    fn auth_plain(&mut self, _authorization_id: &str, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((expected_user, expected_password)) if user == expected_user && password == expected_password => {
                self.logins.lock().expect("the logins are never poisoned").push(user.to_string());
                AUTH_OK
            }
            _ => INVALID_CREDENTIALS,
        }
    }
}

impl SmtpSink {
    /// Starts a plain server on a free port of 127.0.0.1.
    pub fn start() -> Self {
        Self::start_with(SinkOptions::default())
    }

    /// Starts a server with `options` on a free port of 127.0.0.1.
    pub fn start_with(options: SinkOptions) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        let (received, logins) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let keeper = Keeper {
            received: received.clone(),
            current: ReceivedMail::default(),
            credentials: options.credentials.clone(),
            logins: logins.clone(),
        };
        let ssl = match options.starttls {
            true => {
                // mailin builds its TLS configuration with the process's default crypto
                // provider, which rustls cannot pick alone when both ring and aws-lc-rs are
                // compiled in; an error only means one is installed already.
                let _ = rustls::crypto::ring::default_provider().install_default();
                SslConfig::SelfSigned { cert_path: CERT_PATH.into(), key_path: KEY_PATH.into() }
            }
            false => SslConfig::None,
        };
        let mut server = Server::new(keeper);
        server
            .with_name("sink.test")
            .with_num_threads(SESSIONS)
            .with_ssl(ssl)
            .expect("the test certificate loads")
            .with_tcp_listener(listener);
        if options.credentials.is_some() {
            server.with_auth(AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, received, logins }
    }

    /// Users that logged in, one entry per successful `AUTH`.
    pub fn logins(&self) -> Vec<String> {
        self.logins.lock().expect("the logins are never poisoned").clone()
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("the mailbox is never poisoned").clone()
    }
}

/// Implicit TLS in front of a plain sink: each connection is a TLS session (as on port 465)
/// whose plaintext is relayed to the sink.
pub struct ImplicitTlsFront {
    /// The TLS port, on 127.0.0.1.
    pub port: u16,
    handshakes: Arc<AtomicUsize>,
}

impl ImplicitTlsFront {
    /// Starts a TLS front for the sink on `sink_port`, on the current Tokio runtime.
    pub async fn start(sink_port: u16) -> Self {
        let certs: Vec<_> = rustls::pki_types::pem::PemObject::pem_file_iter(CERT_PATH)
            .expect("the test certificate")
            .collect::<Result<_, _>>()
            .expect("the test certificate parses");
        let key = rustls::pki_types::pem::PemObject::from_pem_file(KEY_PATH).expect("the test key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("the test certificate suits its key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("a bound address").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counted) = (acceptor.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    counted.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut sink) = tokio::net::TcpStream::connect(("127.0.0.1", sink_port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut sink).await;
                    }
                });
            }
        });
        Self { port, handshakes }
    }

    /// TLS sessions completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}
