//! The storage contract: every `Store` operation, run against SQLite always and against
//! PostgreSQL when `HERALD_TEST_POSTGRES_URL` is set (each test in a fresh database it creates
//! and drops). Without that variable the PostgreSQL tests are listed as ignored, never passed.

use herald_core::access::Role;
use herald_core::document::Document;
use herald_core::job::{Job, JobKind, JobStatus};
use herald_core::notification::MessageStatus;
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_store::{
    ApiKeyRecord, AuditQuery, AuditRecord, Committed, Dedup, DeliveryReport, DeliveryUpdate, EventCommit, FileRecord, InboxEntry,
    InboxQuery, JobOutcome, LogDetails, MessageLogQuery, Store, StoreError, TenantRecord, Upserted,
};
use herald_testkit::{Backend, on_each_backend};
use jiff::Timestamp;
use libtest_mimic::Arguments;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type Case = fn(Arc<dyn Store>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|store| Box::pin($name(store))) as Case)),*]
    };
}

#[path = "contract/inbox.rs"]
mod inbox;
#[path = "contract/preferences.rs"]
mod preferences;

const CASES: &[(&str, Case)] = cases![
    migrations_are_idempotent,
    tenants_are_unique_and_listed,
    tenant_profiles_are_updated,
    the_audit_trail_is_appended_and_listed_newest_first,
    api_keys_are_found_by_hash_listed_and_revoked,
    documents_round_trip,
    unique_fields_conflict_within_a_tenant_only,
    inserts_are_all_or_nothing,
    tenants_cannot_see_each_others_documents,
    equality_matches_scalars_and_array_elements,
    negations_match_missing_fields,
    comparisons_on_numbers_and_strings,
    existence_and_null,
    logical_operators_and_nested_paths,
    object_and_array_equality,
    system_fields_filter_as_columns,
    sorting_and_paging,
    counting_with_filters,
    replace_checks_the_revision,
    upsert_inserts_then_updates_by_unique_field,
    event_commits_write_everything_together,
    the_message_log_follows_commits_deliveries_and_reports,
    duplicate_events_within_the_window_write_nothing,
    failed_event_commits_write_nothing,
    concurrent_commits_share_transactions_without_mixing_outcomes,
    concurrent_delivery_steps_each_land_when_they_share_a_batch,
    committed_delivery_jobs_wake_the_dispatcher,
    due_delivery_jobs_are_handed_over_claimed_while_the_dispatcher_has_room,
    due_jobs_are_claimed_once_retried_and_reclaimed_after_their_lease,
    concurrent_claimers_never_share_a_job,
    a_tenants_backlog_does_not_hold_back_another_tenants_jobs,
    files_are_unique_by_name_per_tenant_paged_and_deleted,
    whatsapp_windows_keep_the_latest_inbound_per_tenant_and_number,
    sms_opt_outs_are_per_tenant_and_report_changes,
    sms_number_usage_is_swapped_only_from_what_was_read,
];

fn main() {
    let args = Arguments::from_args();
    let cases: Vec<(&str, Case)> = CASES.iter().chain(preferences::CASES).chain(inbox::CASES).copied().collect();
    libtest_mimic::run(&args, on_each_backend("contract", &cases, run_case)).exit();
}

fn run_case(backend: Backend, case: Case) -> Result<(), libtest_mimic::Failed> {
    run(async move {
        let db = backend.scratch().await;
        case(open(db.url()).await).await;
    })
}

fn run(test: impl Future<Output = ()>) -> Result<(), libtest_mimic::Failed> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(test);
    Ok(())
}

async fn open(url: &str) -> Arc<dyn Store> {
    let store = herald_store::connect(url).await.expect("the store opens");
    store.migrate().await.expect("migrations apply");
    for slug in ["clinic-a", "clinic-b"] {
        store.create_tenant(&TenantRecord { slug: slug.into(), name: slug.into(), created_at: now(), ..Default::default() }).await.unwrap();
    }
    store
}

fn now() -> Timestamp {
    Timestamp::from_millisecond(1_700_000_000_000).unwrap()
}

fn doc(id: &str, body: Value) -> Document {
    Document {
        id: id.into(),
        body: body.as_object().expect("an object").clone(),
        created_at: now(),
        updated_at: now(),
        creator_id: "tester".into(),
        updater_id: "tester".into(),
        revision: 1,
    }
}

fn id(n: u32) -> String {
    format!("{n:024x}")
}

async fn seed(store: &Arc<dyn Store>, bodies: Vec<Value>) {
    let docs: Vec<Document> = bodies.into_iter().enumerate().map(|(i, b)| doc(&id(i as u32 + 1), b)).collect();
    store.insert_documents(Collection::Users, "clinic-a", &docs).await.unwrap();
}

async fn ids_matching(store: &Arc<dyn Store>, q: Value) -> Vec<String> {
    let filter = Filter::parse(&q).unwrap();
    let query = ListQuery { filter, sort: vec![], limit: 100, skip: 0, projection: None };
    let found = store.find_documents(Collection::Users, "clinic-a", &query).await.unwrap();
    found.into_iter().map(|d| d.body["id"].as_str().unwrap().to_string()).collect()
}

async fn migrations_are_idempotent(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
}

async fn tenants_are_unique_and_listed(store: Arc<dyn Store>) {
    let again = TenantRecord {
        slug: "clinic-a".into(),
        name: "Again".into(),
        time_zone: Some("Europe/Rome".into()),
        created_at: now(),
        ..Default::default()
    };
    assert!(matches!(store.create_tenant(&again).await, Err(StoreError::Conflict { field: "slug" })));
    assert_eq!(store.find_tenant("clinic-b").await.unwrap().unwrap().name, "clinic-b");
    assert!(store.find_tenant("nobody").await.unwrap().is_none());
    let slugs: Vec<_> = store.list_tenants().await.unwrap().into_iter().map(|t| t.slug).collect();
    assert_eq!(slugs, ["clinic-a", "clinic-b"]);
}

async fn tenant_profiles_are_updated(store: Arc<dyn Store>) {
    let mut tenant = store.find_tenant("clinic-a").await.unwrap().unwrap();
    tenant.name = "Clinica A".into();
    tenant.phone = Some("+390612345678".into());
    tenant.email = Some("desk@clinic-a.example".into());
    tenant.default_locale = Some("it".into());
    assert!(store.update_tenant(&tenant).await.unwrap());
    assert_eq!(store.find_tenant("clinic-a").await.unwrap().unwrap(), tenant);
    assert_eq!(store.find_tenant("clinic-b").await.unwrap().unwrap().phone, None);
    tenant.slug = "nobody".into();
    assert!(!store.update_tenant(&tenant).await.unwrap());
}

async fn the_audit_trail_is_appended_and_listed_newest_first(store: Arc<dyn Store>) {
    let entry = |n: i64, tenant: &str, action: &str| AuditRecord {
        seq: 0,
        id: format!("a{n}-{tenant}"),
        tenant: tenant.into(),
        at: at(n * 1000),
        actor: "apikey:k1".into(),
        action: action.into(),
        target: format!("templates/t{n}"),
        changes: json!({"n": n}),
        source: Some("127.0.0.1".into()),
    };
    for (n, action) in [(1, "templates.create"), (2, "templates.update"), (3, "templates.update")] {
        store.append_audit(&entry(n, "clinic-a", action)).await.unwrap();
    }
    store.append_audit(&entry(4, "clinic-b", "templates.create")).await.unwrap();
    let all = store.list_audit("clinic-a", &AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a3-clinic-a", "a2-clinic-a", "a1-clinic-a"]);
    assert_eq!(all[2], AuditRecord { seq: all[2].seq, ..entry(1, "clinic-a", "templates.create") });
    let updates = AuditQuery { action: Some("templates.update".into()), limit: 1, ..AuditQuery::default() };
    let first_page = store.list_audit("clinic-a", &updates).await.unwrap();
    assert_eq!(first_page.len(), 1);
    let next = AuditQuery { before_seq: Some(first_page[0].seq), ..updates };
    assert_eq!(store.list_audit("clinic-a", &next).await.unwrap()[0].id, "a2-clinic-a");
    let window = AuditQuery { since: Some(at(2000)), until: Some(at(3000)), limit: 10, ..AuditQuery::default() };
    assert_eq!(store.list_audit("clinic-a", &window).await.unwrap().len(), 1);
}

async fn api_keys_are_found_by_hash_listed_and_revoked(store: Arc<dyn Store>) {
    let key = ApiKeyRecord {
        key_id: "k1".into(),
        tenant: "clinic-a".into(),
        role: Role::Manager,
        key_hash: "h1".into(),
        created_at: now(),
        revoked_at: None,
    };
    store.insert_api_key(&key).await.unwrap();
    assert_eq!(store.find_api_key("h1").await.unwrap().unwrap(), key);
    assert!(store.find_api_key("h2").await.unwrap().is_none());
    assert_eq!(store.list_api_keys("clinic-a").await.unwrap(), vec![key.clone()]);
    assert!(store.list_api_keys("clinic-b").await.unwrap().is_empty());
    assert!(!store.revoke_api_key("clinic-b", "k1", now()).await.unwrap(), "another tenant cannot revoke it");
    assert!(store.revoke_api_key("clinic-a", "k1", now()).await.unwrap());
    assert!(!store.revoke_api_key("clinic-a", "k1", now()).await.unwrap(), "revoking twice does nothing");
    assert_eq!(store.find_api_key("h1").await.unwrap().unwrap().revoked_at, Some(now()));
}

async fn documents_round_trip(store: Arc<dyn Store>) {
    let original = doc(&id(1), json!({"id": "u1", "name": "Ada", "groups": ["a"], "nested": {"x": 1.5}}));
    store.insert_documents(Collection::Users, "clinic-a", std::slice::from_ref(&original)).await.unwrap();
    assert_eq!(store.get_document(Collection::Users, "clinic-a", &id(1)).await.unwrap().unwrap(), original);
    assert!(store.get_document(Collection::Templates, "clinic-a", &id(1)).await.unwrap().is_none(), "collections are separate");
    assert!(store.delete_document(Collection::Users, "clinic-a", &id(1)).await.unwrap());
    assert!(!store.delete_document(Collection::Users, "clinic-a", &id(1)).await.unwrap());
    assert!(store.get_document(Collection::Users, "clinic-a", &id(1)).await.unwrap().is_none());
}

async fn unique_fields_conflict_within_a_tenant_only(store: Arc<dyn Store>) {
    let template = |n| doc(&id(n), json!({"name": "welcome"}));
    store.insert_documents(Collection::Templates, "clinic-a", &[template(1)]).await.unwrap();
    let err = store.insert_documents(Collection::Templates, "clinic-a", &[template(2)]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { field: "name" }), "{err:?}");
    store.insert_documents(Collection::Templates, "clinic-b", &[template(3)]).await.unwrap();
    let settings = |n| doc(&id(n), json!({"eventName": "E", "templateName": "t", "channels": []}));
    store.insert_documents(Collection::NotificationSettings, "clinic-a", &[settings(4), settings(5)]).await.unwrap();
}

async fn inserts_are_all_or_nothing(store: Arc<dyn Store>) {
    let docs = [doc(&id(1), json!({"id": "u1"})), doc(&id(2), json!({"id": "u2"})), doc(&id(3), json!({"id": "u1"}))];
    assert!(store.insert_documents(Collection::Users, "clinic-a", &docs).await.is_err());
    assert_eq!(store.count_documents(Collection::Users, "clinic-a", &Filter::all()).await.unwrap(), 0);
}

async fn tenants_cannot_see_each_others_documents(store: Arc<dyn Store>) {
    store.insert_documents(Collection::Users, "clinic-a", &[doc(&id(1), json!({"id": "u1"}))]).await.unwrap();
    assert!(store.get_document(Collection::Users, "clinic-b", &id(1)).await.unwrap().is_none());
    let all = ListQuery { filter: Filter::all(), sort: vec![], limit: 10, skip: 0, projection: None };
    assert!(store.find_documents(Collection::Users, "clinic-b", &all).await.unwrap().is_empty());
    assert_eq!(store.count_documents(Collection::Users, "clinic-b", &Filter::all()).await.unwrap(), 0);
    let mut changed = doc(&id(1), json!({"id": "hijacked"}));
    changed.revision = 1;
    assert!(!store.replace_document(Collection::Users, "clinic-b", &changed, 1).await.unwrap());
    assert!(!store.delete_document(Collection::Users, "clinic-b", &id(1)).await.unwrap());
    assert_eq!(store.get_document(Collection::Users, "clinic-a", &id(1)).await.unwrap().unwrap().body["id"], "u1");
}

async fn equality_matches_scalars_and_array_elements(store: Arc<dyn Store>) {
    seed(
        &store,
        vec![
            json!({"id": "u1", "groups": ["doctors", "nurses"], "age": 30, "vip": true}),
            json!({"id": "u2", "groups": ["nurses"], "age": 30.0}),
            json!({"id": "u3", "groups": "doctors", "age": "30"}),
        ],
    )
    .await;
    assert_eq!(ids_matching(&store, json!({"groups": "doctors"})).await, ["u1", "u3"]);
    assert_eq!(ids_matching(&store, json!({"age": 30})).await, ["u1", "u2"], "numbers compare by value, not text");
    assert_eq!(ids_matching(&store, json!({"age": "30"})).await, ["u3"]);
    assert_eq!(ids_matching(&store, json!({"vip": true})).await, ["u1"]);
    assert_eq!(ids_matching(&store, json!({"groups": {"$in": ["doctors", "x"]}})).await, ["u1", "u3"]);
    assert_eq!(ids_matching(&store, json!({"groups": {"$in": []}})).await, Vec::<String>::new());
}

async fn negations_match_missing_fields(store: Arc<dyn Store>) {
    seed(&store, vec![json!({"id": "u1", "role": "doctor"}), json!({"id": "u2", "role": "nurse"}), json!({"id": "u3"})]).await;
    assert_eq!(ids_matching(&store, json!({"role": {"$ne": "doctor"}})).await, ["u2", "u3"]);
    assert_eq!(ids_matching(&store, json!({"role": {"$nin": ["doctor", "nurse"]}})).await, ["u3"]);
    assert_eq!(ids_matching(&store, json!({"$nor": [{"role": "nurse"}]})).await, ["u1", "u3"]);
}

async fn comparisons_on_numbers_and_strings(store: Arc<dyn Store>) {
    seed(
        &store,
        vec![
            json!({"id": "u1", "score": 5, "date": "2024-01-01"}),
            json!({"id": "u2", "score": 10.5, "date": "2024-06-01"}),
            json!({"id": "u3", "score": "99", "scores": [1, 20]}),
        ],
    )
    .await;
    assert_eq!(ids_matching(&store, json!({"score": {"$gt": 5}})).await, ["u2"], "strings are not numbers");
    assert_eq!(ids_matching(&store, json!({"score": {"$gte": 5}})).await, ["u1", "u2"]);
    assert_eq!(ids_matching(&store, json!({"score": {"$lt": 10.5}})).await, ["u1"]);
    assert_eq!(ids_matching(&store, json!({"score": {"$lte": 10.5}})).await, ["u1", "u2"]);
    assert_eq!(ids_matching(&store, json!({"date": {"$gte": "2024-03-01"}})).await, ["u2"]);
    assert_eq!(ids_matching(&store, json!({"scores": {"$gt": 10}})).await, ["u3"], "any array element may match");
    assert_eq!(ids_matching(&store, json!({"score": {"$gt": 1, "$lt": 6}})).await, ["u1"]);
}

async fn existence_and_null(store: Arc<dyn Store>) {
    seed(&store, vec![json!({"id": "u1", "phone": "+391234567890"}), json!({"id": "u2", "phone": null}), json!({"id": "u3"})]).await;
    assert_eq!(ids_matching(&store, json!({"phone": {"$exists": true}})).await, ["u1", "u2"]);
    assert_eq!(ids_matching(&store, json!({"phone": {"$exists": false}})).await, ["u3"]);
    assert_eq!(ids_matching(&store, json!({"phone": null})).await, ["u2", "u3"], "null matches null and missing");
    assert_eq!(ids_matching(&store, json!({"phone": {"$ne": null}})).await, ["u1"]);
}

async fn logical_operators_and_nested_paths(store: Arc<dyn Store>) {
    seed(
        &store,
        vec![
            json!({"id": "u1", "address": {"city": "Rome"}, "age": 40}),
            json!({"id": "u2", "address": {"city": "Milan"}, "age": 20}),
            json!({"id": "u3", "address": "Rome"}),
        ],
    )
    .await;
    assert_eq!(ids_matching(&store, json!({"address.city": "Rome"})).await, ["u1"]);
    assert_eq!(ids_matching(&store, json!({"$or": [{"address.city": "Milan"}, {"age": {"$gt": 30}}]})).await, ["u1", "u2"]);
    assert_eq!(ids_matching(&store, json!({"$and": [{"address.city": {"$exists": true}}, {"age": {"$lt": 30}}]})).await, ["u2"]);
    assert_eq!(ids_matching(&store, json!({"address": "Rome"})).await, ["u3"], "an object is not equal to a string");
}

async fn object_and_array_equality(store: Arc<dyn Store>) {
    seed(
        &store,
        vec![json!({"id": "u1", "tags": ["a", "b"], "meta": {"k": 1}}), json!({"id": "u2", "tags": ["b", "a"], "meta": {"k": 2}})],
    )
    .await;
    assert_eq!(ids_matching(&store, json!({"tags": ["a", "b"]})).await, ["u1"]);
    assert_eq!(ids_matching(&store, json!({"meta": {"k": 2}})).await, ["u2"]);
}

async fn system_fields_filter_as_columns(store: Arc<dyn Store>) {
    let mut later = doc(&id(2), json!({"id": "u2"}));
    later.created_at = Timestamp::from_millisecond(1_800_000_000_000).unwrap();
    store.insert_documents(Collection::Users, "clinic-a", &[doc(&id(1), json!({"id": "u1"})), later]).await.unwrap();
    assert_eq!(ids_matching(&store, json!({"_id": id(2)})).await, ["u2"]);
    assert_eq!(ids_matching(&store, json!({"createdAt": {"$gt": "2025-01-01T00:00:00Z"}})).await, ["u2"]);
    assert_eq!(ids_matching(&store, json!({"createdAt": {"$lte": "2025-01-01T00:00:00Z"}})).await, ["u1"]);
    assert_eq!(ids_matching(&store, json!({"_id": {"$nin": [id(1)]}})).await, ["u2"]);
    assert_eq!(ids_matching(&store, json!({"creatorId": "tester"})).await, ["u1", "u2"]);
}

async fn sorting_and_paging(store: Arc<dyn Store>) {
    seed(
        &store,
        vec![
            json!({"id": "u1", "name": "Carla", "rank": 2}),
            json!({"id": "u2", "name": "Anna", "rank": 1}),
            json!({"id": "u3", "name": "Bruno", "rank": 2}),
            json!({"id": "u4"}),
        ],
    )
    .await;
    let list = |params: Vec<(&'static str, &'static str)>| {
        let store = store.clone();
        async move {
            let query = ListQuery::from_params(params, 200).unwrap();
            store
                .find_documents(Collection::Users, "clinic-a", &query)
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.body["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(vec![]).await, ["u1", "u2", "u3", "u4"], "insertion order by default");
    assert_eq!(list(vec![("_s", "name")]).await, ["u4", "u2", "u3", "u1"], "missing first when ascending");
    assert_eq!(list(vec![("_s", "-name")]).await, ["u1", "u3", "u2", "u4"]);
    assert_eq!(list(vec![("_s", "-rank,name")]).await, ["u3", "u1", "u2", "u4"]);
    assert_eq!(list(vec![("_s", "name"), ("_l", "2"), ("_sk", "1")]).await, ["u2", "u3"]);
    assert_eq!(list(vec![("_s", "-_id"), ("_l", "1")]).await, ["u4"]);
}

async fn counting_with_filters(store: Arc<dyn Store>) {
    seed(&store, vec![json!({"id": "u1", "groups": ["a"]}), json!({"id": "u2", "groups": ["a", "b"]}), json!({"id": "u3"})]).await;
    assert_eq!(store.count_documents(Collection::Users, "clinic-a", &Filter::all()).await.unwrap(), 3);
    assert_eq!(store.count_documents(Collection::Users, "clinic-a", &Filter::parse(&json!({"groups": "a"})).unwrap()).await.unwrap(), 2);
}

async fn replace_checks_the_revision(store: Arc<dyn Store>) {
    store
        .insert_documents(Collection::Templates, "clinic-a", &[doc(&id(1), json!({"name": "one"})), doc(&id(2), json!({"name": "two"}))])
        .await
        .unwrap();
    let mut current = store.get_document(Collection::Templates, "clinic-a", &id(1)).await.unwrap().unwrap();
    current.body.insert("smsMessage".into(), json!("hi"));
    current.updated_at = Timestamp::from_millisecond(1_700_000_100_000).unwrap();
    current.updater_id = "editor".into();
    assert!(store.replace_document(Collection::Templates, "clinic-a", &current, 1).await.unwrap());
    assert!(!store.replace_document(Collection::Templates, "clinic-a", &current, 1).await.unwrap(), "a stale revision is refused");
    let stored = store.get_document(Collection::Templates, "clinic-a", &id(1)).await.unwrap().unwrap();
    assert_eq!(
        (stored.revision, stored.body["smsMessage"].clone(), stored.updater_id.as_str(), stored.created_at),
        (2, json!("hi"), "editor", now())
    );
    let mut renamed = stored.clone();
    renamed.body.insert("name".into(), json!("two"));
    assert!(matches!(
        store.replace_document(Collection::Templates, "clinic-a", &renamed, 2).await,
        Err(StoreError::Conflict { field: "name" })
    ));
}

async fn upsert_inserts_then_updates_by_unique_field(store: Arc<dyn Store>) {
    let first = [doc(&id(1), json!({"id": "u1", "name": "A"})), doc(&id(2), json!({"id": "u2"}))];
    let outcome = store.upsert_documents(Collection::Users, "clinic-a", &first).await.unwrap();
    assert_eq!(outcome, [Upserted { id: id(1), inserted: true }, Upserted { id: id(2), inserted: true }]);
    let mut again = doc(&id(9), json!({"id": "u1", "name": "B"}));
    again.created_at = Timestamp::from_millisecond(1_800_000_000_000).unwrap();
    again.updated_at = again.created_at;
    let outcome = store.upsert_documents(Collection::Users, "clinic-a", &[again, doc(&id(3), json!({"id": "u3"}))]).await.unwrap();
    assert_eq!(
        outcome,
        [Upserted { id: id(1), inserted: false }, Upserted { id: id(3), inserted: true }],
        "an update reports the existing _id"
    );
    let stored = store.get_document(Collection::Users, "clinic-a", &id(1)).await.unwrap().unwrap();
    assert_eq!(stored.body["name"], "B");
    assert_eq!((stored.created_at, stored.revision), (now(), 2), "the original _id and createdAt are kept");
    assert!(store.get_document(Collection::Users, "clinic-a", &id(9)).await.unwrap().is_none());
    let outcome = store.upsert_documents(Collection::Users, "clinic-b", &[doc(&id(1), json!({"id": "u1"}))]).await.unwrap();
    assert!(outcome[0].inserted, "another tenant has its own u1");
}

fn job(n: u32, kind: JobKind, due_ms: i64) -> Job {
    Job {
        id: format!("job-{n}"),
        kind,
        due_at: Timestamp::from_millisecond(due_ms).unwrap(),
        status: JobStatus::Pending,
        payload: json!({"n": n}),
        attempts: 0,
    }
}

fn dedup(event_id: &str, received_ms: i64, response: Value) -> Dedup {
    Dedup {
        event_id: event_id.into(),
        response,
        received_at: Timestamp::from_millisecond(received_ms).unwrap(),
        window_start: Timestamp::from_millisecond(received_ms - 300_000).unwrap(),
    }
}

async fn the_message_log_follows_commits_deliveries_and_reports(store: Arc<dyn Store>) {
    let notification = json!({
        "event": {"_id": id(1), "id": "ev-1", "name": "E"},
        "recipient": "u1",
        "messages": [
            {"status": "queued", "channel": "email", "templateName": "t"},
            {"status": "skipped", "channel": "sms", "templateName": "t", "reason": "no phone number"},
        ],
    });
    let commit = EventCommit { notifications: vec![doc(&id(2), notification)], ..EventCommit::default() };
    store.commit_event("clinic-a", commit).await.unwrap();
    let all = MessageLogQuery { limit: 10, ..MessageLogQuery::default() };
    let (entries, total) = store.list_message_log("clinic-a", &all).await.unwrap();
    assert_eq!(total, 2);
    let summary: Vec<_> = entries.iter().map(|e| (e.message_index, e.channel.as_str(), e.status.as_str(), e.reason.as_deref())).collect();
    assert_eq!(summary, [(0, "email", "queued", None), (1, "sms", "skipped", Some("no phone number"))]);
    assert_eq!(
        (entries[0].recipient.as_deref(), entries[0].event_name.as_deref(), entries[0].event_id.as_deref()),
        (Some("u1"), Some("E"), Some("ev-1"))
    );

    let sent = json!({"status": "SUCCESS", "channel": "email", "templateName": "t", "service": "smtp", "providerMessageId": "pm-1",
        "history": [{"status": "SUCCESS", "at": "1970-01-01T00:00:01Z"}]});
    let log = LogDetails {
        address: Some("ada@example.org".into()),
        subject: Some("Hello".into()),
        triggered_by: "apikey:k1".into(),
        ..LogDetails::default()
    };
    let update = DeliveryUpdate {
        notification_id: id(2),
        message_index: 0,
        message: sent,
        failure: None,
        stand_in: None,
        job: None,
        log,
        inbox: None,
        at: at(1_000),
    };
    store.record_delivery("clinic-a", update).await.unwrap();
    let sent_only = MessageLogQuery { statuses: vec!["SUCCESS".into()], ..all.clone() };
    let (entries, total) = store.list_message_log("clinic-a", &sent_only).await.unwrap();
    assert_eq!(total, 1);
    let entry = &entries[0];
    assert_eq!(
        (entry.address.as_deref(), entry.subject.as_deref(), entry.service.as_deref()),
        (Some("ada@example.org"), Some("Hello"), Some("smtp"))
    );
    assert_eq!(
        (entry.provider_message_id.as_deref(), entry.sent_at, entry.recipient.as_deref()),
        (Some("pm-1"), Some(at(1_000)), Some("u1"))
    );

    let report = |service: &str, pm: &str, status: MessageStatus, ms: i64| DeliveryReport {
        tenant: None,
        service: service.into(),
        provider_message_id: pm.into(),
        status,
        detail: None,
        at: at(ms),
    };
    let from_another_tenant = DeliveryReport { tenant: Some("clinic-b".into()), ..report("smtp", "pm-1", MessageStatus::Delivered, 2_000) };
    assert_eq!(store.record_report(from_another_tenant).await.unwrap(), None, "a tenant's report reaches only its own messages");
    let delivered =
        store.record_report(report("smtp", "pm-1", MessageStatus::Delivered, 2_000)).await.unwrap().expect("the message is found");
    assert_eq!(
        (delivered.tenant.as_str(), delivered.notification_id.as_str(), delivered.message_index, delivered.applied),
        ("clinic-a", id(2).as_str(), 0, true)
    );
    let stored = store.get_document(Collection::Notifications, "clinic-a", &id(2)).await.unwrap().unwrap();
    assert_eq!(stored.body["messages"][0]["status"], "delivered");
    assert_eq!(stored.body["messages"][0]["history"][1], json!({"status": "delivered", "at": "1970-01-01T00:00:02.000Z"}));
    assert!(
        !store.record_report(report("smtp", "pm-1", MessageStatus::Delivered, 3_000)).await.unwrap().unwrap().applied,
        "a repeat changes nothing"
    );
    assert!(!store.record_report(report("smtp", "pm-1", MessageStatus::Bounced, 3_000)).await.unwrap().unwrap().applied, "nor a step back");
    assert!(store.record_report(report("smtp", "pm-1", MessageStatus::Read, 4_000)).await.unwrap().unwrap().applied);
    assert_eq!(store.record_report(report("smtp", "pm-2", MessageStatus::Delivered, 4_000)).await.unwrap(), None, "unknown id");
    assert_eq!(store.record_report(report("ses", "pm-1", MessageStatus::Delivered, 4_000)).await.unwrap(), None, "another provider's id");
    let read = MessageLogQuery { statuses: vec!["read".into()], ..all.clone() };
    assert_eq!(store.list_message_log("clinic-a", &read).await.unwrap().1, 1, "the log follows the report");
    assert_eq!(store.list_message_log("clinic-b", &all).await.unwrap().1, 0, "tenants see their own log only");
}

async fn event_commits_write_everything_together(store: Arc<dyn Store>) {
    let first = EventCommit {
        event: Some(doc(&id(1), json!({"name": "E", "status": "PROCESSED"}))),
        notifications: vec![doc(&id(2), json!({"recipient": "u1", "reminders": [{"status": "ACTIVE"}]}))],
        jobs: vec![job(1, JobKind::Reminder, 2_000), job(2, JobKind::Reminder, 1_000), job(3, JobKind::Delivery, 500)],
        ..EventCommit::default()
    };
    assert_eq!(store.commit_event("clinic-a", first).await.unwrap(), Committed::Written);
    assert_eq!(store.get_document(Collection::Events, "clinic-a", &id(1)).await.unwrap().unwrap().body["status"], "PROCESSED");
    let reminders = store.list_jobs("clinic-a", JobKind::Reminder).await.unwrap();
    assert_eq!(reminders.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), ["job-2", "job-1"], "by due time");
    assert_eq!(reminders[0].payload, json!({"n": 2}));
    assert!(store.list_jobs("clinic-b", JobKind::Reminder).await.unwrap().is_empty());

    let mut rewritten = store.get_document(Collection::Notifications, "clinic-a", &id(2)).await.unwrap().unwrap();
    rewritten.body.insert("reminders".into(), json!([{"status": "ABORTED"}]));
    let second = EventCommit {
        event: Some(doc(&id(3), json!({"name": "F"}))),
        updated_notifications: vec![rewritten],
        aborted_jobs: vec!["job-1".into(), "job-3".into()],
        ..EventCommit::default()
    };
    store.commit_event("clinic-a", second).await.unwrap();
    let stored = store.get_document(Collection::Notifications, "clinic-a", &id(2)).await.unwrap().unwrap();
    assert_eq!((stored.body["reminders"][0]["status"].clone(), stored.revision), (json!("ABORTED"), 2));
    let statuses: Vec<_> = store.list_jobs("clinic-a", JobKind::Reminder).await.unwrap().into_iter().map(|j| (j.id, j.status)).collect();
    assert_eq!(statuses, [("job-2".to_string(), JobStatus::Pending), ("job-1".to_string(), JobStatus::Aborted)]);
    assert_eq!(store.list_jobs("clinic-a", JobKind::Delivery).await.unwrap()[0].status, JobStatus::Aborted);
    store.commit_event("clinic-b", EventCommit { aborted_jobs: vec!["job-2".into()], ..EventCommit::default() }).await.unwrap();
    assert_eq!(
        store.list_jobs("clinic-a", JobKind::Reminder).await.unwrap()[0].status,
        JobStatus::Pending,
        "another tenant cannot abort it"
    );
}

async fn duplicate_events_within_the_window_write_nothing(store: Arc<dyn Store>) {
    let commit = |doc_n: u32, received_ms: i64, response: Value| EventCommit {
        event: Some(doc(&id(doc_n), json!({"name": "E"}))),
        dedup: Some(dedup("evt-1", received_ms, response)),
        ..EventCommit::default()
    };
    assert_eq!(store.commit_event("clinic-a", commit(1, 1_000_000, json!({"_id": "first"}))).await.unwrap(), Committed::Written);
    let again = store.commit_event("clinic-a", commit(2, 1_100_000, json!({"_id": "second"}))).await.unwrap();
    assert_eq!(again, Committed::Duplicate(json!({"_id": "first"})));
    assert!(store.get_document(Collection::Events, "clinic-a", &id(2)).await.unwrap().is_none(), "a duplicate writes nothing");
    assert_eq!(
        store.find_duplicate("clinic-a", "evt-1", Timestamp::from_millisecond(900_000).unwrap()).await.unwrap(),
        Some(json!({"_id": "first"}))
    );
    assert_eq!(store.commit_event("clinic-b", commit(3, 1_100_000, json!({}))).await.unwrap(), Committed::Written, "ids are per tenant");
    assert_eq!(
        store.commit_event("clinic-a", commit(4, 1_400_001, json!({"_id": "later"}))).await.unwrap(),
        Committed::Written,
        "outside the window it is new"
    );
    assert_eq!(
        store.find_duplicate("clinic-a", "evt-1", Timestamp::from_millisecond(1_300_000).unwrap()).await.unwrap(),
        Some(json!({"_id": "later"}))
    );
}

async fn failed_event_commits_write_nothing(store: Arc<dyn Store>) {
    store.insert_documents(Collection::Notifications, "clinic-a", &[doc(&id(9), json!({}))]).await.unwrap();
    let clashing = EventCommit {
        event: Some(doc(&id(1), json!({"name": "E"}))),
        notifications: vec![doc(&id(9), json!({"recipient": "clash"}))],
        jobs: vec![job(1, JobKind::Reminder, 1)],
        dedup: Some(dedup("evt-9", 1_000_000, json!({}))),
        ..EventCommit::default()
    };
    assert!(store.commit_event("clinic-a", clashing).await.is_err());
    assert!(store.get_document(Collection::Events, "clinic-a", &id(1)).await.unwrap().is_none());
    assert!(store.list_jobs("clinic-a", JobKind::Reminder).await.unwrap().is_empty());
    assert_eq!(store.find_duplicate("clinic-a", "evt-9", Timestamp::UNIX_EPOCH).await.unwrap(), None);
}

async fn concurrent_commits_share_transactions_without_mixing_outcomes(store: Arc<dyn Store>) {
    store.insert_documents(Collection::Notifications, "clinic-a", &[doc(&id(999), json!({}))]).await.unwrap();
    let commits = (0..40u32).map(|n| {
        let store = store.clone();
        let mut commit = EventCommit {
            event: Some(doc(&id(n + 1), json!({"n": n}))),
            jobs: vec![job(n, JobKind::Delivery, 1)],
            ..EventCommit::default()
        };
        if n % 10 == 0 {
            commit.dedup = Some(dedup("same-id", 1_000_000, json!({"n": n})));
        }
        if n == 7 {
            commit.notifications = vec![doc(&id(999), json!({}))];
        }
        tokio::spawn(async move { store.commit_event("clinic-a", commit).await })
    });
    let mut written = 0;
    let mut duplicates = Vec::new();
    for (n, outcome) in futures_outcomes(commits).await.into_iter().enumerate() {
        match outcome {
            Ok(Committed::Written) => written += 1,
            Ok(Committed::Duplicate(first)) => duplicates.push(first),
            Err(_) => assert_eq!(n, 7, "only the clashing commit fails"),
        }
    }
    assert_eq!((written, duplicates.len()), (36, 3), "one of the four same-id events is written");
    let first = store.find_duplicate("clinic-a", "same-id", Timestamp::UNIX_EPOCH).await.unwrap().unwrap();
    assert!(duplicates.iter().all(|d| *d == first), "duplicates get the written event's response");
    assert_eq!(store.count_documents(Collection::Events, "clinic-a", &Filter::all()).await.unwrap(), 36);
    assert_eq!(store.list_jobs("clinic-a", JobKind::Delivery).await.unwrap().len(), 36);
}

/// Deliveries recorded at once share the writer's batches, where their messages, log rows,
/// done jobs and inbox entries are written together: two steps of one notification, entries
/// of one user and a retried job must each land as if written alone.
async fn concurrent_delivery_steps_each_land_when_they_share_a_batch(store: Arc<dyn Store>) {
    let in_app = json!({"status": "queued", "channel": "in_app", "templateName": "t"});
    let notifications: Vec<Document> = (1..=20u32)
        .map(|n| doc(&id(n), json!({"event": {"id": "ev", "name": "E"}, "recipient": "u1", "messages": [in_app.clone(), in_app.clone()]})))
        .collect();
    let jobs = (1..=40u32).map(|n| job(n, JobKind::Delivery, 0)).collect();
    store.commit_event("clinic-a", EventCommit { notifications, jobs, ..EventCommit::default() }).await.unwrap();
    assert_eq!(store.claim_due_jobs(&[JobKind::Delivery], at(0), at(60_000), 100).await.unwrap().len(), 40);
    let steps = (1..=20u32).flat_map(|n| [(n, 0usize), (n, 1usize)]).map(|(n, index)| {
        let store = store.clone();
        let job_number = (n - 1) * 2 + u32::try_from(index).unwrap() + 1;
        let outcome = if job_number == 40 { JobOutcome::Retry(at(9_000), "try later".into()) } else { JobOutcome::Done };
        let inbox = InboxEntry {
            id: format!("entry-{n}-{index}"),
            user_id: if n % 2 == 0 { "u1".into() } else { "u2".into() },
            number: 0,
            seq: 0,
            notification_id: id(n),
            message_index: index,
            notification_type: None,
            priority: "medium".into(),
            title: None,
            body: format!("message {n}.{index}"),
            data: json!({}),
            created_at: at(1_000),
            updated_at: at(1_000),
            read_at: None,
            dismissed_at: None,
            archived_at: None,
        };
        let update = DeliveryUpdate {
            notification_id: id(n),
            message_index: index,
            message: json!({"status": "SUCCESS", "channel": "in_app", "templateName": "t", "providerMessageId": format!("pm-{n}-{index}")}),
            failure: None,
            stand_in: None,
            job: Some((format!("job-{job_number}"), outcome)),
            log: LogDetails::default(),
            inbox: Some(Box::new(inbox)),
            at: at(1_000),
        };
        tokio::spawn(async move { store.record_delivery("clinic-a", update).await })
    });
    for step in steps.collect::<Vec<_>>() {
        step.await.unwrap().unwrap();
    }
    for n in 1..=20u32 {
        let stored = store.get_document(Collection::Notifications, "clinic-a", &id(n)).await.unwrap().unwrap();
        let statuses: Vec<&Value> = stored.body["messages"].as_array().unwrap().iter().map(|m| &m["status"]).collect();
        assert_eq!(statuses, [&json!("SUCCESS"), &json!("SUCCESS")], "both messages of notification {n} are set");
        assert_eq!(stored.revision, 3, "each step is a revision of its own");
    }
    let sent = MessageLogQuery { statuses: vec!["SUCCESS".into()], limit: 100, ..MessageLogQuery::default() };
    assert_eq!(store.list_message_log("clinic-a", &sent).await.unwrap().1, 40, "every message's log row follows");
    let jobs = store.list_jobs("clinic-a", JobKind::Delivery).await.unwrap();
    let done = jobs.iter().filter(|j| j.status == JobStatus::Done).count();
    let retried: Vec<&str> = jobs.iter().filter(|j| j.status == JobStatus::Pending).map(|j| j.id.as_str()).collect();
    assert_eq!((done, retried), (39, vec!["job-40"]), "done jobs are settled together, the retry alone");
    for user in ["u1", "u2"] {
        let (entries, total) =
            store.list_inbox("clinic-a", &InboxQuery { user_id: user.into(), limit: 100, ..InboxQuery::default() }).await.unwrap();
        let mut numbers: Vec<i64> = entries.iter().map(|e| e.number).collect();
        numbers.sort_unstable();
        assert_eq!((total, numbers), (20, (1..=20).collect::<Vec<i64>>()), "{user}'s entries are numbered once each, without gaps");
        assert!(entries.iter().all(InboxEntry::is_new));
        assert_eq!(store.inbox_seq("clinic-a", user).await.unwrap(), 20);
    }
}

/// Whether `added` was notified, without waiting.
async fn woken(added: &tokio::sync::Notify) -> bool {
    tokio::select! {
        biased;
        () = added.notified() => true,
        () = std::future::ready(()) => false,
    }
}

/// A commit that adds a delivery job notifies the delivery feed's `added` before it is
/// answered, and the notification waits for a dispatcher that is not waiting yet.
async fn committed_delivery_jobs_wake_the_dispatcher(store: Arc<dyn Store>) {
    let feed = store.delivery_feed();
    let woken = || woken(feed.added());
    store.commit_event("clinic-a", EventCommit { jobs: vec![job(1, JobKind::Reminder, 0)], ..EventCommit::default() }).await.unwrap();
    assert!(!woken().await, "a reminder wakes no dispatcher");
    store.commit_event("clinic-a", EventCommit { jobs: vec![job(2, JobKind::Delivery, 0)], ..EventCommit::default() }).await.unwrap();
    assert!(woken().await, "a delivery job does");
    assert!(!woken().await, "once");
}

/// Once a dispatcher takes due delivery jobs, an event's delivery jobs due by the event's time
/// are committed claimed (running, one attempt, leased) and handed over before the commit is
/// answered, with their notification and event as committed — as many as the dispatcher has
/// room for. The others, and jobs due later, stay
/// pending for a claim and wake the dispatcher; handed-over jobs come back after their lease.
async fn due_delivery_jobs_are_handed_over_claimed_while_the_dispatcher_has_room(store: Arc<dyn Store>) {
    let feed = store.delivery_feed();
    let mut handed = feed.take_due_jobs(jiff::SignedDuration::from_secs(60), 2);
    let due = now().as_millisecond();
    let jobs = vec![
        Job { payload: json!({"notification": id(2), "message": 0}), ..job(1, JobKind::Delivery, due) },
        job(2, JobKind::Delivery, due + 60_000),
        job(3, JobKind::Reminder, due),
        job(4, JobKind::Delivery, due - 1),
        job(5, JobKind::Delivery, due),
    ];
    let notification = doc(&id(2), json!({"recipient": "u1"}));
    let commit =
        EventCommit { event: Some(doc(&id(1), json!({"name": "E"}))), notifications: vec![notification], jobs, ..EventCommit::default() };
    store.commit_event("clinic-a", commit).await.unwrap();
    let mut received = Vec::new();
    while let Ok(handed) = handed.try_recv() {
        let (claimed, notification, event) = (handed.claimed, handed.notification.map(|n| n.id), handed.event.map(|e| e.id.clone()));
        received.push((claimed.tenant, claimed.job.id, claimed.job.status, claimed.job.attempts, notification, event));
    }
    let running = |n: u32, notification: Option<String>| {
        ("clinic-a".to_string(), format!("job-{n}"), JobStatus::Running, 1, notification, Some(id(1)))
    };
    assert_eq!(received, [running(1, Some(id(2))), running(4, None)], "the due delivery jobs, up to the room there was, in order");
    assert!(woken(feed.added()).await, "the due job without room wakes the dispatcher");
    let statuses: Vec<(String, JobStatus)> =
        store.list_jobs("clinic-a", JobKind::Delivery).await.unwrap().into_iter().map(|j| (j.id, j.status)).collect();
    for (n, status) in [(1, JobStatus::Running), (2, JobStatus::Pending), (4, JobStatus::Running), (5, JobStatus::Pending)] {
        assert!(statuses.contains(&(format!("job-{n}"), status)), "job-{n} is {status:?} in {statuses:?}");
    }
    let claimed = |at_ms: i64| {
        let store = store.clone();
        async move {
            let claimed = store.claim_due_jobs(&[JobKind::Delivery], at(at_ms), at(at_ms + 1_000), 10).await.unwrap();
            claimed.into_iter().map(|c| (c.job.id, c.job.attempts)).collect::<Vec<_>>()
        }
    };
    assert_eq!(claimed(due).await, [("job-5".to_string(), 1)], "handed-over jobs are not claimed again while leased");
    let mut after_lease = claimed(due + 60_001).await;
    after_lease.sort();
    let again = |n: u32, attempts: u32| (format!("job-{n}"), attempts);
    assert_eq!(after_lease, [again(1, 2), again(2, 1), again(4, 2), again(5, 2)], "after the leases, with the job now due");
}

async fn futures_outcomes(
    handles: impl Iterator<Item = tokio::task::JoinHandle<Result<Committed, StoreError>>>,
) -> Vec<Result<Committed, StoreError>> {
    let mut outcomes = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        outcomes.push(handle.await.unwrap());
    }
    outcomes
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

async fn due_jobs_are_claimed_once_retried_and_reclaimed_after_their_lease(store: Arc<dyn Store>) {
    let jobs = vec![
        job(1, JobKind::Reminder, 1_000),
        job(2, JobKind::Reminder, 2_000),
        job(3, JobKind::Reminder, 5_000),
        job(4, JobKind::Delivery, 0),
        job(5, JobKind::Reminder, 100),
    ];
    store.commit_event("clinic-a", EventCommit { jobs, aborted_jobs: vec!["job-5".into()], ..EventCommit::default() }).await.unwrap();
    store.commit_event("clinic-b", EventCommit { jobs: vec![job(6, JobKind::Reminder, 1_500)], ..EventCommit::default() }).await.unwrap();
    let ids = |claimed: &[herald_core::job::ClaimedJob]| {
        claimed.iter().map(|c| (c.tenant.clone(), c.job.id.clone(), c.job.attempts)).collect::<Vec<_>>()
    };
    let first = store.claim_due_jobs(&[JobKind::Reminder], at(2_500), at(60_000), 10).await.unwrap();
    assert_eq!(
        ids(&first),
        [
            ("clinic-a".to_string(), "job-1".to_string(), 1),
            ("clinic-b".to_string(), "job-6".to_string(), 1),
            ("clinic-a".to_string(), "job-2".to_string(), 1)
        ],
        "due reminders of every tenant, earliest first; the aborted one and the delivery are not claimed"
    );
    assert!(first.iter().all(|c| c.job.status == JobStatus::Running));
    assert!(
        store.claim_due_jobs(&[JobKind::Reminder], at(2_500), at(60_000), 10).await.unwrap().is_empty(),
        "claimed jobs are not claimed again"
    );
    store.settle_job("clinic-a", "job-1", JobOutcome::Done).await.unwrap();
    store.settle_job("clinic-a", "job-2", JobOutcome::Retry(at(6_000), "provider down".into())).await.unwrap();
    store.settle_job("clinic-b", "job-6", JobOutcome::Failed("recipient gone".into())).await.unwrap();
    store.settle_job("clinic-b", "job-1", JobOutcome::Done).await.unwrap();
    let statuses = |tenant: &'static str| {
        let store = store.clone();
        async move { store.list_jobs(tenant, JobKind::Reminder).await.unwrap().into_iter().map(|j| (j.id, j.status)).collect::<Vec<_>>() }
    };
    assert_eq!(statuses("clinic-b").await, [("job-6".to_string(), JobStatus::Failed)]);
    let second = store.claim_due_jobs(&[JobKind::Reminder], at(5_500), at(7_000), 10).await.unwrap();
    assert_eq!(ids(&second), [("clinic-a".to_string(), "job-3".to_string(), 1)], "the retried job waits for its new time");
    let third = store.claim_due_jobs(&[JobKind::Reminder], at(7_500), at(60_000), 10).await.unwrap();
    assert_eq!(
        ids(&third),
        [("clinic-a".to_string(), "job-3".to_string(), 2), ("clinic-a".to_string(), "job-2".to_string(), 2)],
        "a job whose lease ran out is claimed again"
    );
    assert_eq!(store.claim_due_jobs(&[JobKind::Delivery], at(0), at(1), 10).await.unwrap().len(), 1);
}

async fn concurrent_claimers_never_share_a_job(store: Arc<dyn Store>) {
    let jobs: Vec<Job> = (0..40).map(|n| job(n, JobKind::Reminder, i64::from(n))).collect();
    store.commit_event("clinic-a", EventCommit { jobs, ..EventCommit::default() }).await.unwrap();
    let claimers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store.claim_due_jobs(&[JobKind::Reminder], at(1_000), at(60_000), 3).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|c| c.job.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (40, 40), "every job claimed exactly once");
}

async fn a_tenants_backlog_does_not_hold_back_another_tenants_jobs(store: Arc<dyn Store>) {
    let backlog: Vec<Job> = (0..20).map(|n| job(n, JobKind::Delivery, i64::from(n))).collect();
    store.commit_event("clinic-a", EventCommit { jobs: backlog, ..EventCommit::default() }).await.unwrap();
    store.commit_event("clinic-b", EventCommit { jobs: vec![job(99, JobKind::Delivery, 500)], ..EventCommit::default() }).await.unwrap();
    let claimed = store.claim_due_jobs(&[JobKind::Delivery], at(1_000), at(60_000), 4).await.unwrap();
    let tenants: Vec<&str> = claimed.iter().map(|c| c.tenant.as_str()).collect();
    assert_eq!(tenants, ["clinic-a", "clinic-a", "clinic-b"], "each tenant gets its share of a claim, even when due later");
}

fn file_record(tenant: &str, n: u32, name: &str, created_ms: i64) -> FileRecord {
    FileRecord {
        tenant: tenant.into(),
        id: id(n),
        name: name.into(),
        content_type: "application/pdf".into(),
        size: 1_234 + u64::from(n),
        sha256: format!("{n:064x}"),
        created_at: at(created_ms),
        creator_id: "key-1".into(),
    }
}

async fn files_are_unique_by_name_per_tenant_paged_and_deleted(store: Arc<dyn Store>) {
    let report = file_record("clinic-a", 1, "report.pdf", 20);
    store.insert_file(&report).await.unwrap();
    assert_eq!(store.get_file("clinic-a", &id(1)).await.unwrap(), Some(report.clone()), "every field round-trips");
    assert_eq!(store.find_file_by_name("clinic-a", "report.pdf").await.unwrap(), Some(report.clone()));
    let taken = store.insert_file(&file_record("clinic-a", 2, "report.pdf", 30)).await;
    assert!(matches!(taken, Err(StoreError::Conflict { field: "name" })), "{taken:?}");
    store.insert_file(&file_record("clinic-b", 3, "report.pdf", 30)).await.unwrap();
    assert_eq!(store.get_file("clinic-b", &id(1)).await.unwrap(), None, "another tenant's id finds nothing");
    assert_eq!(store.find_file_by_name("clinic-b", "report.pdf").await.unwrap().unwrap().id, id(3));

    store.insert_file(&file_record("clinic-a", 4, "leaflet.pdf", 10)).await.unwrap();
    store.insert_file(&file_record("clinic-a", 5, "map.png", 20)).await.unwrap();
    let names = |files: Vec<FileRecord>| files.into_iter().map(|f| f.name).collect::<Vec<_>>();
    assert_eq!(names(store.list_files("clinic-a", None, 10, 0).await.unwrap()), ["leaflet.pdf", "report.pdf", "map.png"]);
    assert_eq!(names(store.list_files("clinic-a", None, 2, 1).await.unwrap()), ["report.pdf", "map.png"]);
    assert_eq!(names(store.list_files("clinic-a", Some(at(20)), 10, 0).await.unwrap()), ["report.pdf", "map.png"]);
    assert_eq!(names(store.list_files("clinic-b", None, 10, 0).await.unwrap()), ["report.pdf"]);

    assert!(!store.delete_file("clinic-b", &id(1)).await.unwrap(), "another tenant cannot delete it");
    assert!(store.delete_file("clinic-a", &id(1)).await.unwrap());
    assert!(!store.delete_file("clinic-a", &id(1)).await.unwrap());
    assert_eq!(store.get_file("clinic-a", &id(1)).await.unwrap(), None);
    store.insert_file(&file_record("clinic-a", 6, "report.pdf", 40)).await.unwrap();
}

async fn whatsapp_windows_keep_the_latest_inbound_per_tenant_and_number(store: Arc<dyn Store>) {
    let phone = "+393331234567";
    assert_eq!(store.last_whatsapp_inbound("clinic-a", phone).await.unwrap(), None);
    store.record_whatsapp_inbound("clinic-a", phone, at(5_000)).await.unwrap();
    store.record_whatsapp_inbound("clinic-a", phone, at(2_000)).await.unwrap();
    assert_eq!(store.last_whatsapp_inbound("clinic-a", phone).await.unwrap(), Some(at(5_000)), "an older message does not move it back");
    store.record_whatsapp_inbound("clinic-a", phone, at(9_000)).await.unwrap();
    assert_eq!(store.last_whatsapp_inbound("clinic-a", phone).await.unwrap(), Some(at(9_000)));
    assert_eq!(store.last_whatsapp_inbound("clinic-b", phone).await.unwrap(), None, "windows are per tenant");
    assert_eq!(store.last_whatsapp_inbound("clinic-a", "+393330000000").await.unwrap(), None);
}

async fn sms_opt_outs_are_per_tenant_and_report_changes(store: Arc<dyn Store>) {
    let phone = "+393331234567";
    assert!(!store.sms_opted_out("clinic-a", phone).await.unwrap());
    assert!(store.set_sms_opt_out("clinic-a", phone, true, at(1_000)).await.unwrap());
    assert!(!store.set_sms_opt_out("clinic-a", phone, true, at(2_000)).await.unwrap(), "a repeated STOP changes nothing");
    assert!(store.sms_opted_out("clinic-a", phone).await.unwrap());
    assert!(!store.sms_opted_out("clinic-b", phone).await.unwrap(), "consent is per tenant");
    assert!(store.set_sms_opt_out("clinic-a", phone, false, at(3_000)).await.unwrap());
    assert!(!store.set_sms_opt_out("clinic-a", phone, false, at(4_000)).await.unwrap());
    assert!(!store.sms_opted_out("clinic-a", phone).await.unwrap());
}

async fn sms_number_usage_is_swapped_only_from_what_was_read(store: Arc<dyn Store>) {
    use herald_core::sms_safeguards::NumberUsage;
    let phone = "+393331234567";
    let first = NumberUsage { window_start: at(1_000), sends: 1, last_sent: at(1_000) };
    assert_eq!(store.sms_number_usage("clinic-a", phone).await.unwrap(), None);
    assert!(store.swap_sms_number_usage("clinic-a", phone, None, first).await.unwrap());
    assert!(!store.swap_sms_number_usage("clinic-a", phone, None, first).await.unwrap(), "another instance inserted first");
    assert_eq!(store.sms_number_usage("clinic-a", phone).await.unwrap(), Some(first));
    let second = NumberUsage { sends: 2, last_sent: at(2_000), ..first };
    assert!(store.swap_sms_number_usage("clinic-a", phone, Some(first), second).await.unwrap());
    assert!(!store.swap_sms_number_usage("clinic-a", phone, Some(first), second).await.unwrap(), "a stale read loses");
    assert_eq!(store.sms_number_usage("clinic-a", phone).await.unwrap(), Some(second));
    assert_eq!(store.sms_number_usage("clinic-b", phone).await.unwrap(), None, "usage is per tenant");
}
