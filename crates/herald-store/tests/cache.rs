//! The configuration cache in front of each store ([`herald_store::connect`]): answers are
//! remembered (a change made behind the store's back, straight in the database with
//! PostgreSQL's triggers off, is not seen), every write through the store is seen by the next
//! read, a change made through one store reaches another store's cache on the same database,
//! and on PostgreSQL nothing cached survives a lost listener connection. Run on SQLite always
//! and on PostgreSQL when `HERALD_TEST_POSTGRES_URL` is set, each test in a fresh database.

use herald_core::access::Role;
use herald_core::document::Document;
use herald_core::query::{Filter, ListQuery};
use herald_core::resources::Collection;
use herald_core::rules::preferences::ClinicSettings;
use herald_store::{ApiKeyRecord, Store, TenantRecord};
use herald_testkit::{Backend, on_each_backend};
use jiff::Timestamp;
use libtest_mimic::Arguments;
use serde_json::{Value, json};
use sqlx::Connection;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Case = fn(String) -> Pin<Box<dyn Future<Output = ()> + Send>>;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|url| Box::pin($name(url))) as Case)),*]
    };
}

const CASES: &[(&str, Case)] = cases![
    writes_through_the_store_are_read_at_once,
    a_change_through_one_store_reaches_another_stores_cache,
    nothing_cached_survives_a_lost_listener,
];

/// How long another instance may take to hear of a change (a PostgreSQL notification), or
/// the cache to start serving (its listener to connect).
const DEADLINE: Duration = Duration::from_secs(10);

/// How often a condition that depends on a notification is checked again.
const STEP: Duration = Duration::from_millis(5);

/// Evaluates `$probe` (an `async` block giving a bool) until it holds, failing with `$what`
/// past [`DEADLINE`].
macro_rules! eventually {
    ($what:expr, $probe:expr) => {{
        let deadline = Instant::now() + DEADLINE;
        while !$probe.await {
            assert!(Instant::now() < deadline, "{} within {DEADLINE:?}", $what);
            tokio::time::sleep(STEP).await;
        }
    }};
}

fn main() {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, on_each_backend("cache", CASES, run_case)).exit();
}

fn run_case(backend: Backend, case: Case) -> Result<(), libtest_mimic::Failed> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(async move {
        let db = backend.scratch().await;
        case(db.url().to_string()).await;
    });
    Ok(())
}

/// A migrated store on `url` with tenants `clinic-a`, `clinic-b` and `probe`, whose cache
/// serves.
async fn open(url: &str) -> Arc<dyn Store> {
    let store = herald_store::connect(url).await.expect("the store opens");
    store.migrate().await.expect("migrations apply");
    for slug in ["clinic-a", "clinic-b", "probe"] {
        store.create_tenant(&TenantRecord { slug: slug.into(), name: slug.into(), created_at: at(0), ..Default::default() }).await.unwrap();
    }
    until_cached(url, &store).await;
    store
}

/// Another store on the database of `url` (opened with [`open`]), whose cache serves.
async fn open_again(url: &str) -> Arc<dyn Store> {
    let store = herald_store::connect(url).await.expect("the store opens");
    until_cached(url, &store).await;
    store
}

fn postgres(url: &str) -> bool {
    url.starts_with("postgres")
}

/// Checks that `$probe` (an `async` block that reads through a store and tells whether the
/// answer differs from what round `$n`'s `$sql` wrote) holds right after `$sql` ran behind the
/// cache, reading once before to fill the cache. Repeated up to [`DEADLINE`]: on PostgreSQL a
/// store's cache serves only once its listener is connected, and a notification of an earlier
/// change may still drop the answer once after it was read.
macro_rules! remembered {
    ($what:expr, $url:expr, |$n:ident| $sql:expr, $probe:expr) => {{
        let round = std::sync::atomic::AtomicU32::new(1);
        eventually!(format!("{} is remembered", $what), async {
            let $n = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            $probe.await;
            behind_the_cache($url, &$sql).await;
            $probe.await
        });
    }};
}

/// Waits until `store` answers from its cache (on PostgreSQL, once its listener is
/// connected), reading the tenant `probe`, which nothing else uses.
async fn until_cached(url: &str, store: &Arc<dyn Store>) {
    remembered!("the tenant probe", url, |n| format!("UPDATE tenants SET name = 'renamed-{n}' WHERE slug = 'probe'"), async {
        store.find_tenant("probe").await.unwrap().unwrap().name != format!("renamed-{n}")
    });
}

/// Runs `sql` straight on the database, on PostgreSQL with triggers off, so no store hears of
/// it.
async fn behind_the_cache(url: &str, sql: &str) {
    if postgres(url) {
        let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("SET session_replication_role = replica").execute(&mut connection).await.unwrap();
        sqlx::query(sql).execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    } else {
        let mut connection = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut connection).await.unwrap();
        connection.close().await.unwrap();
    }
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn doc(id: &str, body: Value) -> Document {
    Document {
        id: id.into(),
        body: body.as_object().expect("an object").clone(),
        created_at: at(0),
        updated_at: at(0),
        creator_id: "tester".into(),
        updater_id: "tester".into(),
        revision: 1,
    }
}

fn key(hash: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        key_id: format!("id-{hash}"),
        tenant: "clinic-a".into(),
        role: Role::Manager,
        key_hash: hash.into(),
        created_at: at(0),
        revoked_at: None,
    }
}

fn settings(auto_send: bool) -> ClinicSettings {
    let mut settings = ClinicSettings::default();
    settings.apply(json!({"settings": {"budget_sent": {"auto_send": auto_send}}})).unwrap();
    settings
}

/// The ids of a tenant's documents in a cached collection, as the engine reads them.
async fn ids(store: &Arc<dyn Store>, collection: Collection, tenant: &str) -> Vec<String> {
    let documents = store.find_documents(collection, tenant, &ListQuery::matching(Filter::all(), 100)).await.unwrap();
    documents.into_iter().map(|d| d.id).collect()
}

async fn writes_through_the_store_are_read_at_once(url: String) {
    let store = open(&url).await;

    remembered!("a tenant", &url, |n| format!("UPDATE tenants SET name = 'behind-{n}' WHERE slug = 'clinic-a'"), async {
        store.find_tenant("clinic-a").await.unwrap().unwrap().name != format!("behind-{n}")
    });
    let changed = TenantRecord { slug: "clinic-a".into(), name: "Clinic A".into(), created_at: at(0), ..Default::default() };
    store.update_tenant(&changed).await.unwrap();
    assert_eq!(store.find_tenant("clinic-a").await.unwrap().unwrap(), changed, "an updated tenant is read at once");
    assert_eq!(store.find_tenant("clinic-c").await.unwrap(), None);
    store
        .create_tenant(&TenantRecord { slug: "clinic-c".into(), name: "c".into(), created_at: at(0), ..Default::default() })
        .await
        .unwrap();
    assert!(store.find_tenant("clinic-c").await.unwrap().is_some(), "a created tenant is found at once");

    assert_eq!(store.find_api_key("h1").await.unwrap(), None);
    store.insert_api_key(&key("h1")).await.unwrap();
    assert_eq!(store.find_api_key("h1").await.unwrap(), Some(key("h1")), "an inserted key is found at once");
    remembered!("a key", &url, |n| format!("UPDATE api_keys SET created_ms = {n} WHERE key_hash = 'h1'"), async {
        store.find_api_key("h1").await.unwrap().unwrap().created_at != Timestamp::from_millisecond(n.into()).unwrap()
    });
    assert!(store.revoke_api_key("clinic-a", "id-h1", at(9)).await.unwrap());
    assert_eq!(store.find_api_key("h1").await.unwrap().unwrap().revoked_at, Some(at(9)), "a revoked key is read revoked at once");

    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), None);
    store.put_clinic_settings("clinic-a", &settings(false), at(0)).await.unwrap();
    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), Some(settings(false)), "new settings are read at once");
    let hours = r#"{"settings": {"t": {"enabled": true, "auto_send": true, "mandatory": false, "hours_before": N}}}"#;
    remembered!("clinic settings", &url, |n| format!("UPDATE clinic_settings SET doc = '{}'", hours.replace('N', &n.to_string())), async {
        let stored = store.find_clinic_settings("clinic-a").await.unwrap().unwrap();
        stored.settings.get("t").and_then(|t| t.hours_before) != Some(n)
    });
    store.put_clinic_settings("clinic-a", &settings(true), at(0)).await.unwrap();
    assert_eq!(store.find_clinic_settings("clinic-a").await.unwrap(), Some(settings(true)), "changed settings are read at once");

    for collection in [Collection::EventSettings, Collection::NotificationSettings, Collection::Templates, Collection::Providers] {
        let body = |name: &str| json!({"name": name, "eventName": name, "channel": "email"});
        let what = collection.name();
        assert!(ids(&store, collection, "clinic-a").await.is_empty());
        store.insert_documents(collection, "clinic-a", &[doc("d1", body("one"))]).await.unwrap();
        assert_eq!(ids(&store, collection, "clinic-a").await, ["d1"], "{what}: an insert is read at once");
        remembered!(what, &url, |n| format!("UPDATE {what} SET revision = {n} WHERE tenant_id = 'clinic-a'"), async {
            let all = store.find_documents(collection, "clinic-a", &ListQuery::matching(Filter::all(), 100)).await.unwrap();
            all[0].revision != i64::from(n)
        });
        behind_the_cache(&url, &format!("UPDATE {what} SET revision = 1 WHERE tenant_id = 'clinic-a'")).await;
        store.upsert_documents(collection, "clinic-a", &[doc("d2", body("two"))]).await.unwrap();
        assert_eq!(ids(&store, collection, "clinic-a").await, ["d1", "d2"], "{what}: an upsert is read at once");
        assert!(store.replace_document(collection, "clinic-a", &doc("d2", body("three")), 1).await.unwrap());
        let found = store.find_documents(collection, "clinic-a", &ListQuery::matching(Filter::equals("name", "three"), 1)).await.unwrap();
        assert_eq!(found.len(), 1, "{what}: a replaced document is read at once");
        assert!(store.delete_document(collection, "clinic-a", "d2").await.unwrap());
        assert_eq!(ids(&store, collection, "clinic-a").await, ["d1"], "{what}: a deletion is read at once");
    }
}

async fn a_change_through_one_store_reaches_another_stores_cache(url: String) {
    let (first, second) = (open(&url).await, open_again(&url).await);
    // On SQLite the process's stores on one file share their cache: a change applies to both
    // at once. On PostgreSQL the other store hears of it by notification, a moment later.
    let reached = |what: &str| {
        assert!(postgres(&url), "{what}: on SQLite a change applies to every store at once");
        what.to_string()
    };

    assert!(ids(&second, Collection::EventSettings, "clinic-a").await.is_empty());
    first.insert_documents(Collection::EventSettings, "clinic-a", &[doc("d1", json!({"eventName": "e"}))]).await.unwrap();
    if ids(&second, Collection::EventSettings, "clinic-a").await.is_empty() {
        let what = reached("an event setting added on one store");
        eventually!(what, async { !ids(&second, Collection::EventSettings, "clinic-a").await.is_empty() });
    }

    first.insert_api_key(&key("h1")).await.unwrap();
    assert_eq!(second.find_api_key("h1").await.unwrap(), Some(key("h1")));
    first.revoke_api_key("clinic-a", "id-h1", at(9)).await.unwrap();
    let revoked = async || second.find_api_key("h1").await.unwrap().unwrap().revoked_at.is_some();
    if !revoked().await {
        let what = reached("a key revoked on one store");
        eventually!(what, revoked());
    }

    assert_eq!(second.find_tenant("clinic-a").await.unwrap().unwrap().name, "clinic-a");
    first
        .update_tenant(&TenantRecord { slug: "clinic-a".into(), name: "Clinic A".into(), created_at: at(0), ..Default::default() })
        .await
        .unwrap();
    let renamed = async || second.find_tenant("clinic-a").await.unwrap().unwrap().name == "Clinic A";
    if !renamed().await {
        let what = reached("a tenant renamed on one store");
        eventually!(what, renamed());
    }

    assert_eq!(second.find_clinic_settings("clinic-a").await.unwrap(), None);
    first.put_clinic_settings("clinic-a", &settings(false), at(0)).await.unwrap();
    let stored = async || second.find_clinic_settings("clinic-a").await.unwrap().is_some();
    if !stored().await {
        let what = reached("clinic settings stored on one store");
        eventually!(what, stored());
    }
}

async fn nothing_cached_survives_a_lost_listener(url: String) {
    if !postgres(&url) {
        return; // SQLite's cache is invalidated in the process: there is no listener to lose.
    }
    let store = open(&url).await;
    assert_eq!(store.find_tenant("clinic-a").await.unwrap().unwrap().name, "clinic-a");
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN \"herald_config\"%'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "the store's listener connection is ended");
    // A change whose notification nobody hears: the listener is gone.
    behind_the_cache(&url, "UPDATE tenants SET name = 'changed in the gap' WHERE slug = 'clinic-a'").await;
    eventually!("the change made while the store was not listening", async {
        store.find_tenant("clinic-a").await.unwrap().unwrap().name == "changed in the gap"
    });
    until_cached(&url, &store).await;
    admin.close().await.unwrap();
}
