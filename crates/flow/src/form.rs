//! A-T1 forms: a flow whose trigger is a form declares the form's fields in
//! its trigger settings; careflow hosts the page (`GET /forms/:token`) and
//! takes submissions (HTML form post or JSON). Every field is a declared
//! variable, validated by type, requiredness and options.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::binding::{FieldError, bind};
use crate::model::{Flow, VariableDecl};
use crate::problem::Problem;

/// The hidden field humans leave empty and spam bots fill in.
pub const HONEYPOT: &str = "website";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSettings {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub fields: Vec<FormField>,
    #[serde(default = "default_submit")]
    pub submit_label: String,
    #[serde(default = "default_success")]
    pub success_message: String,
}

fn default_submit() -> String {
    "Gửi".into()
}

fn default_success() -> String {
    "Cảm ơn bạn! Chúng tôi đã nhận được thông tin.".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// The declared variable this field fills.
    pub name: String,
    pub label: String,
    #[serde(default)]
    pub input: Input,
    #[serde(default)]
    pub placeholder: String,
    /// For `select`: the allowed values.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    #[default]
    Text,
    Textarea,
    Number,
    Email,
    Phone,
    Date,
    Select,
    Checkbox,
}

impl FormSettings {
    pub fn of(flow: &Flow) -> Result<Self, String> {
        serde_json::from_value(flow.trigger.settings.clone())
            .map_err(|e| format!("form settings: {e}"))
    }
}

/// Save-time problems of a form trigger.
pub fn validate(flow: &Flow) -> Vec<Problem> {
    let settings = match FormSettings::of(flow) {
        Ok(s) => s,
        Err(message) => return vec![Problem::flow("trigger.settings", message)],
    };
    let mut problems = Vec::new();
    if settings.title.trim().is_empty() {
        problems.push(Problem::flow(
            "trigger.settings.title",
            "give the form a title",
        ));
    }
    if settings.fields.is_empty() {
        problems.push(Problem::flow(
            "trigger.settings.fields",
            "a form needs at least one field",
        ));
    }
    let mut seen = HashSet::new();
    for (i, field) in settings.fields.iter().enumerate() {
        let at = format!("trigger.settings.fields[{i}]");
        if !flow.variables.iter().any(|v| v.name == field.name) {
            problems.push(Problem::flow(
                format!("{at}.name"),
                format!("`{}` is not a declared variable", field.name),
            ));
        }
        if field.name == HONEYPOT {
            problems.push(Problem::flow(
                format!("{at}.name"),
                format!("`{HONEYPOT}` is reserved for the spam guard"),
            ));
        }
        if !seen.insert(field.name.as_str()) {
            problems.push(Problem::flow(
                format!("{at}.name"),
                format!("`{}` appears twice", field.name),
            ));
        }
        if field.input == Input::Select && field.options.is_empty() {
            problems.push(Problem::flow(
                format!("{at}.options"),
                "a select needs options",
            ));
        }
    }
    problems
}

/// Checks a submission: types and requiredness of the declared variables,
/// and select options. `Ok(None)` means the honeypot was filled: answer as
/// if accepted, start nothing.
pub fn check_submission(
    flow: &Flow,
    settings: &FormSettings,
    input: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, Vec<FieldError>> {
    if input
        .get(HONEYPOT)
        .and_then(Value::as_str)
        .is_some_and(|v| !v.is_empty())
    {
        return Ok(None);
    }
    // Only the form's own fields are taken; unchecked boxes are `false`.
    let mut fields = Map::new();
    for field in &settings.fields {
        match input.get(&field.name) {
            Some(v) => {
                fields.insert(field.name.clone(), v.clone());
            }
            None if field.input == Input::Checkbox => {
                fields.insert(field.name.clone(), Value::String("false".into()));
            }
            None => {}
        }
    }
    let declared: Vec<VariableDecl> = flow
        .variables
        .iter()
        .filter(|v| settings.fields.iter().any(|f| f.name == v.name))
        .cloned()
        .collect();
    let mut errors = Vec::new();
    for field in settings.fields.iter().filter(|f| f.input == Input::Select) {
        if let Some(Value::String(chosen)) = fields.get(&field.name)
            && !chosen.is_empty()
            && !field.options.contains(chosen)
        {
            errors.push(FieldError {
                field: field.name.clone(),
                message: format!("choose one of: {}", field.options.join(", ")),
            });
        }
    }
    match bind(&declared, &fields) {
        Ok(bound) if errors.is_empty() => Ok(Some(bound)),
        Ok(_) => Err(errors),
        Err(mut more) => {
            more.extend(errors);
            Err(more)
        }
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The hosted form page, with previous values and errors after a failed
/// submission.
pub fn render_page(
    flow: &Flow,
    settings: &FormSettings,
    values: &Map<String, Value>,
    errors: &[FieldError],
) -> String {
    let mut html = String::new();
    html.push_str("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    html.push_str(&format!("<title>{}</title>", escape(&settings.title)));
    html.push_str("<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}label{display:block;margin-top:1rem;font-weight:600}input,select,textarea{width:100%;padding:.5rem;box-sizing:border-box}.error{color:#b42318;font-weight:400}.hp{position:absolute;left:-9999px}button{margin-top:1.5rem;padding:.6rem 1.2rem}</style></head><body>");
    html.push_str(&format!("<h1>{}</h1>", escape(&settings.title)));
    if !settings.description.is_empty() {
        html.push_str(&format!("<p>{}</p>", escape(&settings.description)));
    }
    html.push_str("<form method=\"post\">");
    for field in &settings.fields {
        let required = flow
            .variables
            .iter()
            .any(|v| v.name == field.name && v.required);
        let value = values
            .get(&field.name)
            .and_then(Value::as_str)
            .unwrap_or("");
        let id = escape(&field.name);
        html.push_str(&format!(
            "<label for=\"{id}\">{}{}</label>",
            escape(&field.label),
            if required { " *" } else { "" }
        ));
        let req = if required { " required" } else { "" };
        match field.input {
            Input::Textarea => html.push_str(&format!(
                "<textarea id=\"{id}\" name=\"{id}\" placeholder=\"{}\"{req}>{}</textarea>",
                escape(&field.placeholder),
                escape(value)
            )),
            Input::Select => {
                html.push_str(&format!(
                    "<select id=\"{id}\" name=\"{id}\"{req}><option value=\"\"></option>"
                ));
                for option in &field.options {
                    let selected = if option == value { " selected" } else { "" };
                    html.push_str(&format!(
                        "<option value=\"{0}\"{selected}>{0}</option>",
                        escape(option)
                    ));
                }
                html.push_str("</select>");
            }
            Input::Checkbox => html.push_str(&format!(
                "<input type=\"checkbox\" id=\"{id}\" name=\"{id}\" value=\"true\"{}>",
                if value == "true" { " checked" } else { "" }
            )),
            other => {
                let kind = match other {
                    Input::Number => "number",
                    Input::Email => "email",
                    Input::Phone => "tel",
                    Input::Date => "date",
                    _ => "text",
                };
                html.push_str(&format!("<input type=\"{kind}\" id=\"{id}\" name=\"{id}\" value=\"{}\" placeholder=\"{}\"{req}>", escape(value), escape(&field.placeholder)));
            }
        }
        for e in errors.iter().filter(|e| e.field == field.name) {
            html.push_str(&format!(
                "<div class=\"error\" role=\"alert\">{}</div>",
                escape(&e.message)
            ));
        }
    }
    html.push_str(&format!("<div class=\"hp\" aria-hidden=\"true\"><label for=\"{HONEYPOT}\">Website</label><input id=\"{HONEYPOT}\" name=\"{HONEYPOT}\" tabindex=\"-1\" autocomplete=\"off\"></div>"));
    html.push_str(&format!(
        "<button type=\"submit\">{}</button></form></body></html>",
        escape(&settings.submit_label)
    ));
    html
}

/// The page shown after a successful submission.
pub fn render_thanks(settings: &FormSettings) -> String {
    format!(
        "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body style=\"font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto\"><h1>{0}</h1><p role=\"status\">{1}</p></body></html>",
        escape(&settings.title),
        escape(&settings.success_message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flow() -> Flow {
        serde_json::from_value(json!({
            "name": "Đăng ký tư vấn",
            "variables": [
                {"name": "ho_ten", "type": "text", "required": true},
                {"name": "so_dien_thoai", "type": "phone", "required": true},
                {"name": "goi", "type": "text"},
                {"name": "dong_y", "type": "boolean"}
            ],
            "trigger": {"type": "form", "settings": {
                "title": "Đăng ký <tư vấn>",
                "fields": [
                    {"name": "ho_ten", "label": "Họ tên"},
                    {"name": "so_dien_thoai", "label": "Số điện thoại", "input": "phone"},
                    {"name": "goi", "label": "Gói", "input": "select", "options": ["Cơ bản", "Nâng cao"]},
                    {"name": "dong_y", "label": "Đồng ý", "input": "checkbox"}
                ]
            }},
            "nodes": [], "edges": []
        }))
        .unwrap()
    }

    fn input(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_valid_submission_binds_every_field_as_a_variable() {
        // SPEC A-T1
        let f = flow();
        let s = FormSettings::of(&f).unwrap();
        let bound = check_submission(&f, &s, &input(json!({"ho_ten": "Lan", "so_dien_thoai": "0912345678", "goi": "Nâng cao", "extra": "x"}))).unwrap().unwrap();
        assert_eq!(bound["so_dien_thoai"], "84912345678");
        assert_eq!(bound["goi"], "Nâng cao");
        assert_eq!(bound["dong_y"], false);
        assert!(!bound.contains_key("extra"));
    }

    #[test]
    fn errors_are_per_field_and_the_honeypot_starts_nothing() {
        // SPEC A-T1
        let f = flow();
        let s = FormSettings::of(&f).unwrap();
        let errors = check_submission(
            &f,
            &s,
            &input(json!({"so_dien_thoai": "abc", "goi": "VIP"})),
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["ho_ten", "so_dien_thoai", "goi"]);
        assert_eq!(check_submission(&f, &s, &input(json!({"ho_ten": "Bot", "so_dien_thoai": "0912345678", "website": "http://spam"}))).unwrap(), None);
    }

    #[test]
    fn the_page_escapes_user_text_and_keeps_values_after_errors() {
        // SPEC A-T1
        let f = flow();
        let s = FormSettings::of(&f).unwrap();
        let errors = vec![FieldError {
            field: "so_dien_thoai".into(),
            message: "\"abc\" is not a phone number".into(),
        }];
        let html = render_page(
            &f,
            &s,
            &input(json!({"ho_ten": "<script>x</script>"})),
            &errors,
        );
        assert!(html.contains("Đăng ký &lt;tư vấn&gt;"));
        assert!(html.contains("value=\"&lt;script&gt;x&lt;/script&gt;\""));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&quot;abc&quot; is not a phone number"));
        assert!(html.contains("name=\"website\""));
    }

    #[test]
    fn form_settings_are_validated_against_declared_variables() {
        // SPEC A-T1 A-V
        let mut f = flow();
        f.trigger.settings["fields"][0]["name"] = json!("nope");
        f.trigger.settings["fields"][2]["options"] = json!([]);
        let fields: Vec<String> = validate(&f).into_iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "trigger.settings.fields[0].name",
                "trigger.settings.fields[2].options"
            ]
        );
    }
}
