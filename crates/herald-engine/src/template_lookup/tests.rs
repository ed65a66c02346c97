use super::*;
use crate::tenants::Tenants;
use herald_core::clock::ManualClock;
use herald_core::document::Document;
use herald_core::id::new_document_id;
use herald_core::resources::template::validate;
use herald_testkit::Backend;
use std::fs;

fn write(folder: &Path, path: &str, text: &str) {
    let path = folder.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

async fn store_template(store: &Arc<dyn Store>, tenant: &str, body: Value) {
    let now = jiff::Timestamp::now();
    let document = Document::new(new_document_id(now), validate(body).unwrap(), now, "test");
    store.insert_documents(Collection::Templates, tenant, &[document]).await.unwrap();
}

async fn sms(lookup: &TemplateLookup, tenant: &str, name: &str) -> Option<String> {
    lookup.find(tenant, name).await.unwrap().map(|t| t.sms_message.unwrap_or_default())
}

#[tokio::test]
async fn the_tenant_wins_over_the_system_which_wins_over_the_files() {
    let database = Backend::Sqlite.scratch().await;
    let store = herald_store::connect(database.url()).await.unwrap();
    store.migrate().await.unwrap();
    let tenants = Tenants::new(store.clone(), Arc::new(ManualClock::new(jiff::Timestamp::UNIX_EPOCH)));
    for slug in ["clinic", "other", SYSTEM_TENANT] {
        tenants.create(slug, None, None).await.unwrap();
    }
    let folder = tempfile::tempdir().unwrap();
    for name in ["welcome", "reminder", "budget_sent"] {
        write(folder.path(), &format!("sms/default/{name}.txt"), &format!("file {name} {{{{ patient_name }}}}\n"));
    }
    write(folder.path(), "sms/es/budget_sent.txt", "archivo {{ patient_name }}");
    write(folder.path(), "email/default/budget_sent.html", "Subject: Budget {{ budget_number }}\n<p>Total {{ total }}</p>\n");
    write(folder.path(), "email/es/budget_sent.html", "subject:  Presupuesto {{ budget_number }}\r\n<mjml><mj-body></mj-body></mjml>");
    write(folder.path(), "email/es/notes.md", "ignored");
    store_template(&store, SYSTEM_TENANT, json!({"name": "welcome", "smsMessage": "system welcome"})).await;
    store_template(&store, SYSTEM_TENANT, json!({"name": "reminder", "smsMessage": "system reminder"})).await;
    store_template(&store, "clinic", json!({"name": "welcome", "smsMessage": "clinic welcome"})).await;
    store_template(&store, "other", json!({"name": "reminder", "smsMessage": "other reminder"})).await;
    let lookup = TemplateLookup::new(store.clone(), Some(folder.path())).unwrap();

    assert_eq!(sms(&lookup, "clinic", "welcome").await.as_deref(), Some("clinic welcome"), "the tenant's own");
    assert_eq!(sms(&lookup, "other", "welcome").await.as_deref(), Some("system welcome"), "the system's");
    assert_eq!(sms(&lookup, "clinic", "reminder").await.as_deref(), Some("system reminder"), "another tenant's is never seen");
    assert_eq!(sms(&lookup, "other", "reminder").await.as_deref(), Some("other reminder"));
    assert_eq!(sms(&lookup, "clinic", "budget_sent").await.as_deref(), Some("file budget_sent {{ patient_name }}"), "the file's");
    assert_eq!(sms(&lookup, "clinic", "missing").await, None);

    let file = lookup.find("clinic", "budget_sent").await.unwrap().unwrap();
    assert_eq!(file.syntax, herald_core::resources::template::Syntax::Jinja);
    assert_eq!(file.email_title.as_deref(), Some("Budget {{ budget_number }}"));
    assert_eq!(file.email_html_message.as_deref(), Some("<p>Total {{ total }}</p>"));
    let (spanish, locale) = file.localized(&["es-ES", "en"]);
    assert_eq!(locale, Some("es"));
    assert_eq!(spanish.email_title.as_deref(), Some("Presupuesto {{ budget_number }}"));
    assert_eq!(spanish.email_html_message.as_deref(), Some("<mjml><mj-body></mj-body></mjml>"));
    assert_eq!(spanish.sms_message.as_deref(), Some("archivo {{ patient_name }}"));

    let without_folder = TemplateLookup::new(store, None).unwrap();
    assert_eq!(sms(&without_folder, "clinic", "budget_sent").await, None);
}

#[test]
fn bad_template_files_stop_the_start_naming_the_file() {
    let store_free = |files: &[(&str, &str)]| {
        let folder = tempfile::tempdir().unwrap();
        for (path, text) in files {
            write(folder.path(), path, text);
        }
        read_folder(folder.path()).map(|templates| templates.len()).map_err(|e| e.to_string())
    };
    let no_subject = store_free(&[("email/default/welcome.html", "<p>Hi</p>")]).unwrap_err();
    assert!(no_subject.contains("welcome.html") && no_subject.contains("Subject"), "{no_subject}");
    let broken = store_free(&[("sms/it/welcome.txt", "{% if x %}")]).unwrap_err();
    assert!(broken.contains("welcome") && broken.contains("locales.it.smsMessage"), "{broken}");
    let bad_locale = store_free(&[("sms/it IT/welcome.txt", "ciao")]).unwrap_err();
    assert!(bad_locale.contains("locales.it IT"), "{bad_locale}");
    assert_eq!(store_free(&[("push/default/x.txt", "ignored"), ("sms/default/.hidden.txt", "ignored")]), Ok(0));
}
