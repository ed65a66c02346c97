//! The `herald` binary as an operator uses it: tenant and key commands, `serve` printing the
//! first admin key, graceful stop on SIGTERM, data kept across restarts, configuration errors,
//! and deliveries surviving a SIGKILL in the middle of a burst ([`crash`]).
//! Runs on SQLite, and on PostgreSQL when `HERALD_TEST_POSTGRES_URL` is set (otherwise those
//! tests are listed as ignored).

mod crash;

use herald_testkit::{Backend, on_each_backend};
use libtest_mimic::{Arguments, Failed};
use serde_json::{Value, json};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

type Case = fn(Env) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

const CASES: &[(&str, Case)] = &[
    ("serve_prints_the_first_key_serves_and_keeps_data_across_restarts", |env| {
        Box::pin(serve_prints_the_first_key_serves_and_keeps_data_across_restarts(env))
    }),
    ("tenant_and_api_key_commands", |env| Box::pin(tenant_and_api_key_commands(env))),
    ("invalid_configuration_names_the_key", |env| Box::pin(invalid_configuration_names_the_key(env))),
    ("help_explains_every_command", |env| Box::pin(help_explains_every_command(env))),
    ("a_kill_in_the_middle_of_a_burst_loses_no_delivery", |env| Box::pin(crash::a_kill_in_the_middle_of_a_burst_loses_no_delivery(env))),
];

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, on_each_backend("CLI", CASES, run)).exit();
}

fn run(backend: Backend, case: Case) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let workdir = tempfile::tempdir().expect("a working folder");
        let mut vars = vec![("HERALD_BIND".to_string(), "127.0.0.1:0".to_string()), ("HERALD_LOG_FORMAT".into(), "json".into())];
        // On SQLite the binary runs on its defaults (./data/herald.db in the working folder).
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(_) => Some(backend.scratch().await),
        };
        if let Some(database) = &database {
            vars.push(("HERALD_DATABASE_URL".into(), database.url().to_string()));
            vars.push(("HERALD_SECRET_KEY".into(), "ab".repeat(32)));
        }
        case(Env { dir: workdir.path().to_path_buf(), vars }).await;
    });
    Ok(())
}

/// Where and with which environment the binary runs.
pub(crate) struct Env {
    pub(crate) dir: std::path::PathBuf,
    pub(crate) vars: Vec<(String, String)>,
}

impl Env {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command.args(args).current_dir(&self.dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
        command.envs(self.vars.iter().cloned());
        command
    }

    /// Runs a command to completion: (success, stdout lines as JSON, stderr).
    async fn run(&self, args: &[&str]) -> (bool, Vec<Value>, String) {
        let output = self.command(args).output().await.expect("herald runs");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}"))).collect();
        (output.status.success(), lines, String::from_utf8(output.stderr).unwrap())
    }

    pub(crate) async fn serve(&self) -> Server {
        let mut child =
            self.command(&["serve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("herald serve starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = stderr.next_line().await.unwrap() {
                if let Ok(log) = serde_json::from_str::<Value>(&line)
                    && log["fields"]["message"] == "herald is listening"
                {
                    return log["fields"]["address"].as_str().unwrap().to_string();
                }
            }
            panic!("herald serve exited before listening");
        })
        .await
        .expect("herald serve listens within a minute");
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
        Server { child, stdout, base: format!("http://{address}") }
    }
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) stdout: Lines<BufReader<ChildStdout>>,
    pub(crate) base: String,
}

impl Server {
    /// Sends SIGTERM and waits for a clean exit.
    async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().await.unwrap().success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.expect("herald stops on SIGTERM").unwrap();
        assert!(status.success(), "herald exits cleanly on SIGTERM: {status}");
    }
}

async fn serve_prints_the_first_key_serves_and_keeps_data_across_restarts(env: Env) {
    let mut server = env.serve().await;
    let first_line = server.stdout.next_line().await.unwrap().expect("the admin key line");
    let printed: Value = serde_json::from_str(&first_line).unwrap();
    assert_eq!(printed["tenant"], "default");
    let key = printed["apiKey"].as_str().unwrap().to_string();
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/users/", server.base))
        .bearer_auth(&key)
        .json(&json!({"id": "patient-1", "phoneNumber": "+390612345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    server.stop().await;

    if env.vars.iter().all(|(k, _)| k != "HERALD_DATABASE_URL") {
        assert!(env.dir.join("data/herald.db").exists(), "the default database is under ./data");
        let key_file = std::fs::metadata(env.dir.join("data/herald.key")).expect("a development key beside it");
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&key_file.permissions()) & 0o777, 0o600);
    }

    let mut server = env.serve().await;
    let users: Value = client.get(format!("{}/users/", server.base)).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(users[0]["id"], "patient-1", "data and keys survive a restart");
    let stdout = tokio::time::timeout(Duration::from_millis(200), server.stdout.next_line()).await;
    assert!(!matches!(stdout, Ok(Ok(Some(_)))), "no new admin key on a database that has tenants");
    server.stop().await;
}

async fn tenant_and_api_key_commands(env: Env) {
    let (ok, lines, _) = env.run(&["tenant", "create", "st-claire", "--name", "St Claire Hospital"]).await;
    assert!(ok);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["tenant"], "st-claire");
    assert!(lines[0]["apiKey"].as_str().unwrap().starts_with("hk_"));
    let (ok, _, stderr) = env.run(&["tenant", "create", "st-claire"]).await;
    assert!(!ok && stderr.contains("slug"), "{stderr}");
    let (ok, _, stderr) = env.run(&["tenant", "create", "Bad Slug"]).await;
    assert!(!ok && stderr.contains("slug"), "{stderr}");

    let (ok, lines, _) = env.run(&["api-key", "create", "--tenant", "st-claire", "--role", "viewer"]).await;
    assert!(ok);
    assert_eq!((lines[0]["tenant"].as_str(), lines[0]["role"].as_str()), (Some("st-claire"), Some("viewer")));
    let secret = lines[0]["apiKey"].as_str().unwrap().to_string();
    let key_id = lines[0]["keyId"].as_str().unwrap().to_string();
    let (ok, _, stderr) = env.run(&["api-key", "create", "--tenant", "st-claire", "--role", "root"]).await;
    assert!(!ok && stderr.contains("--role"), "{stderr}");
    let (ok, _, stderr) = env.run(&["api-key", "create", "--tenant", "nowhere", "--role", "admin"]).await;
    assert!(!ok && stderr.contains("tenant not found"), "{stderr}");

    let (ok, listed, _) = env.run(&["api-key", "list", "--tenant", "st-claire"]).await;
    assert!(ok);
    assert_eq!(listed.len(), 2, "the admin key and the viewer key");
    let listing = serde_json::to_string(&listed).unwrap();
    assert!(!listing.contains(&secret) && !listing.contains("hk_"), "keys are never listed");

    let (ok, _, _) = env.run(&["api-key", "revoke", "--tenant", "st-claire", &key_id]).await;
    assert!(ok);
    let (_, listed, _) = env.run(&["api-key", "list", "--tenant", "st-claire"]).await;
    assert!(listed.iter().any(|k| k["keyId"] == key_id.as_str() && k["revokedAt"].is_string()));
    let (ok, _, _) = env.run(&["api-key", "revoke", "--tenant", "st-claire", &key_id]).await;
    assert!(!ok, "revoking twice is an error");

    let server = env.serve().await;
    let status = reqwest::Client::new().get(format!("{}/templates/", server.base)).bearer_auth(&secret).send().await.unwrap().status();
    assert_eq!(status, 401, "a revoked key is refused by the server");
    server.stop().await;
}

async fn invalid_configuration_names_the_key(env: Env) {
    let mut env = env;
    env.vars.push(("HERALD_BIND".into(), "nowhere".into()));
    let (ok, _, stderr) = env.run(&["migrate"]).await;
    assert!(!ok);
    assert!(stderr.contains("HERALD_BIND"), "{stderr}");
}

async fn help_explains_every_command(env: Env) {
    let output = env.command(&["--help"]).output().await.unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "migrate", "tenant", "api-key"] {
        assert!(help.contains(command), "{help}");
    }
    let output = env.command(&["api-key", "create", "--help"]).output().await.unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("integration") && help.contains("--tenant"), "{help}");
}
