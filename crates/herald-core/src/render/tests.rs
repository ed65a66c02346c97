use super::*;

fn template(body: Value) -> Template {
    serde_json::from_value(body).unwrap()
}

fn input() -> RenderInput {
    RenderInput {
        data: json!({"date": "2023-08-01T09:30:00Z", "doctor": "<b>Dr. Rossi</b>", "amount": 1234.5, "urgent": true}),
        user: json!({"id": "p-1", "name": "Ada"}),
        tenant: json!({"clinicName": "St Claire", "clinicPhone": "+390612345678"}),
        now: "2023-07-30T08:00:00Z".parse().unwrap(),
        locale: "it".into(),
    }
}

#[test]
fn escapes_unless_triple_braced_and_formats_dates_numbers() {
    let t = template(json!({"name": "t",
        "emailTitle": "Appointment on {{dateFormat data.date format=\"DD/MM/YYYY HH:mm\" tz=\"Europe/Rome\"}}",
        "emailHtmlMessage": "<p>Dear {{user.name}}, {{data.doctor}} / {{{data.doctor}}}. {{tenant.clinicName}}</p>",
        "smsMessage": "{{#if (eq data.urgent true)}}URGENT {{/if}}Due {{toLocale data.amount}} EUR ({{toLocale data.amount locale=\"en\"}}), sent {{dateNow}}"}));
    let Content::Email { subject, html, text } = render(&t, Channel::Email, &input()).unwrap() else { panic!("an email") };
    assert_eq!(subject, "Appointment on 01/08/2023 11:30");
    assert_eq!(html.unwrap(), "<p>Dear Ada, &lt;b&gt;Dr. Rossi&lt;/b&gt; / <b>Dr. Rossi</b>. St Claire</p>");
    assert!(text.is_none());
    let Content::Sms { body } = render(&t, Channel::Sms, &input()).unwrap() else { panic!("an SMS") };
    assert_eq!(body, "URGENT Due 1.234,50 EUR (1,234.50), sent 2023-07-30T08:00:00.000Z");
}

#[test]
fn a_missing_variable_fails_the_message_naming_the_field() {
    let t = template(json!({"name": "t", "smsMessage": "Hi {{user.surname}}"}));
    let err = render(&t, Channel::Sms, &input()).unwrap_err();
    assert_eq!(err.field, "smsMessage");
    assert!(err.reason.contains("cannot be rendered"), "{err}");
}

#[test]
fn templates_that_do_not_compile_are_refused_with_the_line() {
    let t = template(json!({"name": "t", "emailTitle": "ok", "emailMessage": "line one\n{{#if data.x}}never closed"}));
    let err = check(&t).unwrap_err();
    assert_eq!(err.field, "emailMessage");
    assert!(err.reason.contains("line "), "{err}");
}

#[test]
fn whatsapp_needs_a_template_name_and_renders_parameters() {
    let t = template(
        json!({"name": "t", "whatsappTemplateName": "appointment_created", "whatsappTemplateParameters": "{{user.name}}, {{dateFormat data.date format=\"%Y-%m-%d\"}}"}),
    );
    assert_eq!(
        render(&t, Channel::Whatsapp, &input()).unwrap(),
        Content::Whatsapp { template_name: "appointment_created".into(), parameters: vec!["Ada".into(), "2023-08-01".into()] }
    );
    let none = template(json!({"name": "t", "smsMessage": "x"}));
    assert_eq!(render(&none, Channel::Whatsapp, &input()).unwrap_err().reason, "Missing required template name for WhatsApp message");
}

#[test]
fn push_data_is_rendered_inside() {
    let t = template(json!({"name": "t", "pushData": {"android": {"notification": {"title": "Hi {{user.name}}"}}}}));
    let Content::Push { data, .. } = render(&t, Channel::Push, &input()).unwrap() else { panic!("a push") };
    assert_eq!(data.unwrap()["android"]["notification"]["title"], "Hi Ada");
}

#[test]
fn preview_renders_every_channel_with_content() {
    let t = template(json!({"name": "t", "emailTitle": "S", "emailMessage": "B", "smsMessage": "{{nope}}"}));
    let rendered = preview(&t, &input());
    assert_eq!(rendered.len(), 2);
    assert!(rendered[0].is_ok() && rendered[1].is_err());
}
