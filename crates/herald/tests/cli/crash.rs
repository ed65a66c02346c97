//! Crash safety, proven on the real binary: a burst of appointment events (each with a
//! reminder) goes to `herald serve`, which is killed with SIGKILL in the middle; a restarted
//! Herald on the same database must deliver, to a local webhook receiver, exactly the expected
//! messages of every event — the confirmation and the reminder — with none lost. A message may
//! arrive twice only if it was in flight at the kill, and then with the same idempotency key
//! (`webhook-id`), so the receiver can drop the copy.
//!
//! The client re-sends the events whose answer it did not get, with the same event id, as a
//! real client would; deduplication makes that safe. Herald runs on the system clock here, so
//! this test waits (bounded) for the deliveries instead of moving a clock; a short retry
//! schedule keeps a delivery that timed out on a loaded machine within that bound.

use super::{Env, Server};
use herald_testkit::webhook::WebhookSink;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const EVENTS: usize = 120;
const KILL_AFTER: usize = 50;

async fn admin_key(server: &mut Server) -> String {
    let line = server.stdout.next_line().await.unwrap().expect("the admin key line");
    serde_json::from_str::<Value>(&line).unwrap()["apiKey"].as_str().unwrap().to_string()
}

fn event(n: usize, start: jiff::Timestamp) -> Value {
    let end = start.checked_add(jiff::SignedDuration::from_mins(30)).unwrap();
    json!({"id": format!("evt-{n}"), "name": "AM/AppointmentCreated/v1", "key": format!("apt-{n}"),
        "payload": {"startDate": start.to_string(), "endDate": end.to_string(), "resourceId": "dr-rossi", "participantIds": [format!("patient-{}", n % 10)]}})
}

pub(crate) async fn a_kill_in_the_middle_of_a_burst_loses_no_delivery(env: Env) {
    let sink = WebhookSink::start(Vec::new(), None).await;
    let mut env = env;
    env.vars.extend([
        ("HERALD_JOB_POLL_INTERVAL_MS".to_string(), "20".to_string()),
        ("HERALD_JOB_LEASE_SECONDS".into(), "6".into()),
        ("HERALD_DELIVERY__SEND_TIMEOUT_SECONDS".into(), "4".into()),
        ("HERALD_DELIVERY__RETRY__SCHEDULE_SECONDS".into(), "[1,1,2,2,4,4,8,8]".into()),
        ("HERALD_CHANNELS__WEBHOOK__TYPE".into(), "webhook".into()),
        ("HERALD_CHANNELS__WEBHOOK__URL".into(), sink.url.clone()),
        ("HERALD_CHANNELS__WEBHOOK__SECRET".into(), "crash-test-secret".into()),
    ]);
    let mut server = env.serve().await;
    let key = admin_key(&mut server).await;
    let client = reqwest::Client::new();
    let post = |base: &str, path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(&key).json(&body).send();
    for n in 0..10 {
        assert_eq!(
            post(&server.base, "/users/", json!({"id": format!("patient-{n}"), "groups": ["patients"]})).await.unwrap().status(),
            200
        );
    }
    post(&server.base, "/users/", json!({"id": "dr-rossi", "groups": ["doctors"]})).await.unwrap();
    for name in ["AM/AppointmentCreated/v1", "AM/AppointmentReminder/v1"] {
        let setting =
            json!({"eventName": name, "group": "patients", "channels": ["webhook"], "templateName": "unused", "reminders": ["PT20S"]});
        assert_eq!(post(&server.base, "/notification-settings/", setting).await.unwrap().status(), 200);
    }

    let start = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(27)).unwrap();
    let mut accepted = BTreeSet::new();
    for n in 0..KILL_AFTER {
        if post(&server.base, "/notification-events/", event(n, start)).await.is_ok_and(|r| r.status() == 200) {
            accepted.insert(n);
        }
    }
    let in_flight: Vec<_> =
        (KILL_AFTER..KILL_AFTER + 8).map(|n| tokio::spawn(post(&server.base, "/notification-events/", event(n, start)))).collect();
    server.child.start_kill().expect("SIGKILL is sent");
    server.child.wait().await.unwrap();
    for (n, answer) in (KILL_AFTER..).zip(in_flight) {
        if answer.await.unwrap().is_ok_and(|r| r.status() == 200) {
            accepted.insert(n);
        }
    }
    assert!(accepted.len() >= KILL_AFTER, "the events before the kill were accepted");
    assert!(sink.received().len() < accepted.len() * 2, "the kill came with work still to do: reminders at least");

    let server = env.serve().await;
    for n in (0..EVENTS).filter(|n| !accepted.contains(n)) {
        let answer = post(&server.base, "/notification-events/", event(n, start)).await.unwrap();
        assert_eq!(answer.status(), 200, "the event the client had no answer for is accepted (once)");
    }

    let expected = EVENTS * 2;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let by_event = loop {
        let mut by_event: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for hook in sink.received() {
            let body: Value = serde_json::from_str(&hook.body).unwrap();
            let event = (body["event"]["key"].as_str().unwrap().to_string(), body["event"]["name"].as_str().unwrap().to_string());
            by_event.entry(event).or_default().insert(hook.headers["webhook-id"].to_str().unwrap().to_string());
        }
        if by_event.len() >= expected || tokio::time::Instant::now() > deadline {
            break by_event;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let received = sink.received().len();
    assert_eq!(by_event.len(), expected, "every event's confirmation and reminder arrived ({received} requests)");
    assert!(by_event.values().all(|ids| ids.len() == 1), "each message has one idempotency key, however often it arrived");
    assert!(received - expected <= 8 * 2 + 32, "copies only of what was in flight at the kill: {received} for {expected}");
    server.stop().await;
}
