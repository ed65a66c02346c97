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
    assert_eq!(text.unwrap(), "Dear Ada, <b>Dr. Rossi</b> / Dr. Rossi. St Claire", "the text part is derived from the HTML");
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
        Content::Whatsapp {
            template_name: "appointment_created".into(),
            parameters: vec!["Ada".into(), "2023-08-01".into()],
            language: None
        }
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

fn jinja(body: Value) -> Template {
    let mut body = body;
    body["syntax"] = json!("jinja");
    template(body)
}

fn clinic_input() -> RenderInput {
    RenderInput {
        data: json!({"patient_name": "Ana <García>", "start_time": "2030-05-02 10:00", "professional_name": "Dr. Ruiz",
            "clinic_name": "Clínica Sol", "clinic_phone": "+34 123 456 789", "items": ["limpieza", "revisión"]}),
        user: json!({"id": "p-1", "name": "Ana"}),
        tenant: json!({"name": "Sol"}),
        now: "2030-05-01T08:00:00Z".parse().unwrap(),
        locale: "es".into(),
    }
}

#[test]
fn jinja_templates_render_seed_05_style_with_html_escaped_only_in_html() {
    let t = jinja(json!({"name": "appointment_confirmation",
        "emailTitle": "Cita confirmada en {{ clinic_name }}",
        "emailHtmlMessage": "<h1>Hola {{ patient_name }},</h1>\n<p>Tu cita está confirmada para el {{ start_time }}.</p>\n{% if professional_name %}<p>Profesional: {{ professional_name|upper }}</p>{% endif %}{% if reason %}<p>{{ reason }}</p>{% endif %}\n<ul>{% for item in items %}<li>{{ item|title }}</li>{% endfor %}</ul>\n<p>{{ clinic_name }} - {{ clinic_phone }} ({{ data.clinic_name }}, {{ user.name }}, {{ tenant.name }})</p>",
        "smsMessage": "Hola {{ patient_name }}: {{ start_time }}"}));
    let Content::Email { subject, html, text } = render(&t, Channel::Email, &clinic_input()).unwrap() else { panic!("an email") };
    assert_eq!(subject, "Cita confirmada en Clínica Sol");
    assert_eq!(
        html.unwrap(),
        "<h1>Hola Ana &lt;García&gt;,</h1>\n<p>Tu cita está confirmada para el 2030-05-02 10:00.</p>\n<p>Profesional: DR. RUIZ</p>\n<ul><li>Limpieza</li><li>Revisión</li></ul>\n<p>Clínica Sol - +34 123 456 789 (Clínica Sol, Ana, Sol)</p>"
    );
    assert_eq!(
        text.unwrap(),
        "Hola Ana <García>,\n\nTu cita está confirmada para el 2030-05-02 10:00.\n\nProfesional: DR. RUIZ\n\n- Limpieza\n- Revisión\n\nClínica Sol - +34 123 456 789 (Clínica Sol, Ana, Sol)"
    );
    let Content::Sms { body } = render(&t, Channel::Sms, &clinic_input()).unwrap() else { panic!("an SMS") };
    assert_eq!(body, "Hola Ana <García>: 2030-05-02 10:00", "text fields are not escaped");
}

#[test]
fn jinja_refuses_missing_variables_and_files_and_runaway_templates() {
    let missing = jinja(json!({"name": "t", "smsMessage": "Hi {{ patient_name }}, {{ surname }}"}));
    let err = render(&missing, Channel::Sms, &clinic_input()).unwrap_err();
    assert_eq!(err.field, "smsMessage");
    assert!(err.reason.contains("cannot be rendered") && err.reason.contains("undefined"), "{err}");
    let attribute = jinja(json!({"name": "t", "smsMessage": "{{ user.address.city }}"}));
    assert_eq!(render(&attribute, Channel::Sms, &clinic_input()).unwrap_err().field, "smsMessage");
    for source in ["{% include 'secrets.txt' %}", "{% extends 'base.html' %}", "{% import 'm.html' as m %}"] {
        let err = check(&jinja(json!({"name": "t", "smsMessage": source}))).unwrap_err();
        assert_eq!(err.field, "smsMessage", "{source}");
    }
    let runaway =
        jinja(json!({"name": "t", "smsMessage": "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}"}));
    let err = render(&runaway, Channel::Sms, &clinic_input()).unwrap_err();
    assert!(err.reason.contains("cannot be rendered") || err.reason.contains("more than"), "{err}");
    let huge = jinja(json!({"name": "t", "smsMessage": "{% for i in range(90000) %}0123456789{% endfor %}"}));
    assert!(render(&huge, Channel::Sms, &clinic_input()).unwrap_err().reason.contains("more than"), "output is capped");
}

#[test]
fn jinja_templates_that_do_not_compile_are_refused_with_the_line() {
    let t = jinja(json!({"name": "t", "emailTitle": "ok", "emailMessage": "line one\n{% if patient_name %}never closed"}));
    let err = check(&t).unwrap_err();
    assert_eq!(err.field, "emailMessage");
    assert!(err.reason.contains("line 2"), "{err}");
    let variant = jinja(json!({"name": "t", "smsMessage": "ok", "locales": {"it": {"smsMessage": "{{ broken"}}}));
    assert_eq!(check(&variant).unwrap_err().field, "locales.it.smsMessage");
    let handlebars = template(json!({"name": "t", "smsMessage": "ok", "locales": {"it": {"smsMessage": "{{#if x}}"}}}));
    assert_eq!(check(&handlebars).unwrap_err().field, "locales.it.smsMessage");
}

#[test]
fn locale_variants_follow_the_first_preferred_locale_that_has_one() {
    let t = template(json!({"name": "t", "smsMessage": "Hello {{user.name}}", "emailTitle": "Hi", "emailHtmlMessage": "<p>Hi</p>",
        "locales": {"it": {"smsMessage": "Ciao {{user.name}}"}, "de-CH": {"smsMessage": "Grüezi {{user.name}}", "emailMessage": "Grüezi"}}}));
    let sms = |preferred: &[&str]| {
        let (localized, chosen) = t.localized(preferred);
        let Content::Sms { body } = render(&localized, Channel::Sms, &input()).unwrap() else { panic!("an SMS") };
        (body, chosen.map(str::to_string))
    };
    assert_eq!(sms(&["it", "de-CH", "en"]), ("Ciao Ada".into(), Some("it".into())), "exact");
    assert_eq!(sms(&["it-IT", "en"]), ("Ciao Ada".into(), Some("it".into())), "by language");
    assert_eq!(sms(&["DE_ch"]), ("Grüezi Ada".into(), Some("de-CH".into())), "case and underscore do not matter");
    assert_eq!(sms(&["fr-FR", "de-CH", "it"]), ("Grüezi Ada".into(), Some("de-CH".into())), "the tenant's default");
    assert_eq!(sms(&["fr-FR", "es", "it"]), ("Ciao Ada".into(), Some("it".into())), "the configured default");
    assert_eq!(sms(&["fr", "es", "en"]), ("Hello Ada".into(), None), "the base fields");
    assert_eq!(sms(&["de", "en"]), ("Hello Ada".into(), None), "a language does not find its regional variants");
    let (swiss, _) = t.localized(&["de-CH"]);
    assert_eq!(
        (swiss.email_message.as_deref(), swiss.email_html_message.as_deref(), swiss.email_title.as_deref()),
        (Some("Grüezi"), None, Some("Hi"))
    );
    assert!(swiss.locales.is_empty());
}

#[test]
fn mjml_bodies_become_responsive_html_with_a_text_part() {
    let t = jinja(json!({"name": "t", "emailTitle": "Reminder",
        "emailHtmlMessage": "<mjml><mj-body><mj-section><mj-column><mj-text>Hola {{ patient_name }}</mj-text><mj-button href=\"https://sol.example/citas?id=7&amp;x=1\">Ver cita</mj-button></mj-column></mj-section></mj-body></mjml>"}));
    let Content::Email { html, text, .. } = render(&t, Channel::Email, &clinic_input()).unwrap() else { panic!("an email") };
    let html = html.unwrap();
    assert!(html.starts_with("<!doctype html>") && !html.contains("<mj-"), "compiled to HTML");
    assert!(html.contains("Hola Ana &lt;García&gt;") && html.contains("<table"), "{html}");
    assert_eq!(text.unwrap(), "Hola Ana <García>\n\nVer cita (https://sol.example/citas?id=7&x=1)");
    let broken = template(
        json!({"name": "t", "emailTitle": "x", "emailHtmlMessage": "<mjml><mj-body><mj-include path=\"/etc/passwd\" /></mj-body></mjml>"}),
    );
    let err = render(&broken, Channel::Email, &input()).unwrap_err();
    assert_eq!(err.field, "emailHtmlMessage");
    assert!(err.reason.contains("MJML"), "{err}");
}

#[test]
fn plain_text_keeps_words_links_and_entities_and_drops_markup() {
    let html = "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head><body>\n<!-- a comment -->\n<h1>Caf&eacute; &amp; Co&#8217;s   news</h1><p>Line one<br>line   two<br/><br>after a blank</p>\n<p>See <a href='https://x.example/a?b=1&amp;c=2'>our site</a>, <a href=\"mailto:info@x.example\">info@x.example</a> or <a href=\"#top\">top</a>.</p><script>alert(1)</script><table><tr><td>A</td><td>B</td></tr></table>&unknown; 3 &lt; 4</body></html>";
    assert_eq!(
        text::html_to_text(html),
        "Café & Co’s news\n\nLine one\nline two\n\nafter a blank\n\nSee our site (https://x.example/a?b=1&c=2), info@x.example or top.\n\nA\nB\n\n&unknown; 3 < 4"
    );
}
