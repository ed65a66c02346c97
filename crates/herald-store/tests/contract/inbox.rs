//! The contract of the notification center: entries written with their delivery (once per
//! message), the per-user change sequence that real-time clients resume from, actions, lists
//! and signals, per tenant and user.

use super::{Case, at, doc, id};
use herald_store::{DeliveryUpdate, EventCommit, InboxAction, InboxEntry, InboxQuery, LogDetails, Store};
use serde_json::json;
use std::sync::Arc;

/// This file's cases.
pub const CASES: &[(&str, Case)] = cases![inbox_entries_follow_deliveries_and_actions_in_change_order];

fn entry(n: u32, user: &str, priority: &str) -> InboxEntry {
    InboxEntry {
        id: format!("entry-{n}"),
        user_id: user.into(),
        number: 0,
        seq: 0,
        notification_id: id(n),
        message_index: 0,
        notification_type: Some("report_ready".into()),
        priority: priority.into(),
        title: Some("Your report".into()),
        body: format!("report {n}"),
        data: json!({"event": "report.ready"}),
        created_at: at(i64::from(n) * 1_000),
        updated_at: at(i64::from(n) * 1_000),
        read_at: None,
        dismissed_at: None,
        archived_at: None,
    }
}

/// Delivers notification `n`'s in-app message to `user`, with its inbox entry.
async fn deliver(store: &Arc<dyn Store>, tenant: &str, n: u32, user: &str, priority: &str) {
    let notification = json!({"event": {"_id": id(100), "id": "ev", "name": "report.ready"}, "recipient": user,
        "messages": [{"status": "queued", "channel": "in_app", "templateName": "t"}]});
    store.commit_event(tenant, EventCommit { notifications: vec![doc(&id(n), notification)], ..EventCommit::default() }).await.unwrap();
    record(store, tenant, n, user, priority).await;
}

/// Records notification `n`'s in-app message as sent, with its inbox entry.
async fn record(store: &Arc<dyn Store>, tenant: &str, n: u32, user: &str, priority: &str) {
    let sent = json!({"status": "SUCCESS", "channel": "in_app", "templateName": "t"});
    let update = DeliveryUpdate {
        notification_id: id(n),
        message_index: 0,
        message: sent,
        failure: None,
        stand_in: None,
        job: None,
        log: LogDetails::default(),
        inbox: Some(Box::new(entry(n, user, priority))),
        at: at(i64::from(n) * 1_000),
    };
    store.record_delivery(tenant, update).await.unwrap();
}

fn query(user: &str) -> InboxQuery {
    InboxQuery { user_id: user.into(), limit: 10, ..InboxQuery::default() }
}

async fn inbox_entries_follow_deliveries_and_actions_in_change_order(store: Arc<dyn Store>) {
    let mut signals = store.inbox_signals();
    deliver(&store, "clinic-a", 1, "u1", "low").await;
    deliver(&store, "clinic-a", 2, "u1", "urgent").await;
    deliver(&store, "clinic-a", 3, "u2", "medium").await;
    deliver(&store, "clinic-b", 4, "u1", "medium").await;
    let mut signal = signals.recv().await.unwrap();
    while signal.created.is_empty() {
        // PostgreSQL's "look again" when its LISTEN starts, and the echo of its NOTIFY, which
        // may come first, carry no entries.
        signal = signals.recv().await.unwrap();
    }
    let created: Vec<(&str, i64)> = signal.created.iter().map(|e| (e.id.as_str(), e.seq)).collect();
    let signalled = (signal.tenant.as_str(), signal.user_id.as_str(), created);
    assert_eq!(signalled, ("clinic-a", "u1", vec![("entry-1", 1)]), "a committed entry is signalled, with its seq");

    let (mine, total) = store.list_inbox("clinic-a", &query("u1")).await.unwrap();
    assert_eq!(total, 2);
    let summary: Vec<(&str, i64, i64, &str)> = mine.iter().map(|e| (e.id.as_str(), e.number, e.seq, e.priority.as_str())).collect();
    assert_eq!(summary, [("entry-2", 2, 2, "urgent"), ("entry-1", 1, 1, "low")], "newest first, numbered per user");
    assert!(mine.iter().all(InboxEntry::is_new));
    assert_eq!(store.list_inbox("clinic-b", &query("u1")).await.unwrap().1, 1, "per tenant");
    let (before_cursor, _) = store.list_inbox("clinic-a", &InboxQuery { before: Some(2), ..query("u1") }).await.unwrap();
    assert_eq!(before_cursor.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["entry-1"]);
    let (urgent, _) = store.list_inbox("clinic-a", &InboxQuery { priorities: vec!["urgent".into()], ..query("u1") }).await.unwrap();
    assert_eq!(urgent.len(), 1);

    // The same delivery recorded again (a lost lease) adds nothing.
    record(&store, "clinic-a", 1, "u1", "low").await;
    assert_eq!(store.list_inbox("clinic-a", &query("u1")).await.unwrap().1, 2);

    assert_eq!(store.change_inbox_entry("clinic-a", "u2", "entry-1", InboxAction::Read, at(9_000)).await.unwrap(), None, "not u2's");
    let (read, changed) = store.change_inbox_entry("clinic-a", "u1", "entry-1", InboxAction::Read, at(9_000)).await.unwrap().unwrap();
    assert!(changed && read.read_at == Some(at(9_000)) && !read.is_new());
    let (_, again) = store.change_inbox_entry("clinic-a", "u1", "entry-1", InboxAction::Read, at(9_500)).await.unwrap().unwrap();
    assert!(!again, "reading twice changes nothing");
    assert_eq!(store.count_unread_inbox("clinic-a", "u1").await.unwrap(), 1);
    assert_eq!(store.read_all_inbox("clinic-a", "u1", at(10_000)).await.unwrap().len(), 1);
    assert_eq!(store.count_unread_inbox("clinic-a", "u1").await.unwrap(), 0);
    assert_eq!(store.count_unread_inbox("clinic-a", "u2").await.unwrap(), 1, "read-all is per user");
    store.change_inbox_entry("clinic-a", "u1", "entry-2", InboxAction::Archive, at(11_000)).await.unwrap();
    let (archived, _) = store.list_inbox("clinic-a", &InboxQuery { archived: true, ..query("u1") }).await.unwrap();
    assert_eq!(archived.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["entry-2"]);

    // Every change took the next sequence (the repeated delivery took 3 and wrote nothing: a
    // gap, which "after N" does not mind): a client that saw seq 2 gets the rest, in order, each
    // entry as it is now.
    let changes = store.inbox_since("clinic-a", "u1", 2, 100).await.unwrap();
    let order: Vec<(&str, i64)> = changes.iter().map(|e| (e.id.as_str(), e.seq)).collect();
    assert_eq!(order, [("entry-1", 4), ("entry-2", 6)], "entry-2 was read (5), then archived (6)");
    assert_eq!(store.inbox_seq("clinic-a", "u1").await.unwrap(), 6);
    assert_eq!(store.inbox_seq("clinic-a", "nobody").await.unwrap(), 0);
}
