//! Spin's variable templates: `"{{ name }}"` inside a component's
//! `variables` table, referring to application variables.

/// A parsed template: literal text and variable references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<TemplatePart>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Literal(String),
    Variable(String),
}

impl Template {
    /// Parses `text`; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(TemplatePart::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| format!("unterminated `{{{{` in template {text:?}"))?;
            let name = after[..end].trim();
            if !is_variable_name(name) {
                return Err(format!(
                    "{name:?} in template {text:?} is not a variable name (lowercase letters, digits and underscores, starting with a letter)"
                ));
            }
            parts.push(TemplatePart::Variable(name.to_string()));
            rest = &after[end + 2..];
        }
        if rest.contains("}}") {
            return Err(format!("unmatched `}}}}` in template {text:?}"));
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_string()));
        }
        Ok(Self(parts))
    }

    /// The application variables this template refers to.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            TemplatePart::Variable(v) => Some(v.as_str()),
            TemplatePart::Literal(_) => None,
        })
    }

    /// Renders the template, resolving each variable with `resolve`.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                TemplatePart::Literal(text) => out.push_str(text),
                TemplatePart::Variable(name) => out.push_str(&resolve(name)?),
            }
        }
        Ok(out)
    }
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and
/// single underscores, starting with a letter.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_literals_and_references_in_order() {
        let t = Template::parse("http://{{ host }}:{{port}}/x").unwrap();
        assert_eq!(
            t.0,
            vec![
                TemplatePart::Literal("http://".into()),
                TemplatePart::Variable("host".into()),
                TemplatePart::Literal(":".into()),
                TemplatePart::Variable("port".into()),
                TemplatePart::Literal("/x".into()),
            ]
        );
        let rendered: Result<String, ()> = t.render(|n| Ok(n.to_uppercase()));
        assert_eq!(rendered.unwrap(), "http://HOST:PORT/x");
    }

    #[test]
    fn rejects_unterminated_and_bad_names() {
        assert!(Template::parse("{{ host").is_err());
        assert!(Template::parse("{{ Host }}").is_err());
        assert!(Template::parse("{{ }}").is_err());
        assert!(Template::parse("a }} b").is_err());
    }

    #[test]
    fn variable_names_follow_spin_rules() {
        assert!(is_variable_name("admin_token"));
        assert!(is_variable_name("a1"));
        assert!(!is_variable_name("1a"));
        assert!(!is_variable_name("Admin"));
        assert!(!is_variable_name("a-b"));
        assert!(!is_variable_name("a__b"));
        assert!(!is_variable_name("a_"));
    }
}
