//! Evaluating a condition against a run context at a given instant.

use std::cmp::Ordering;

use chrono::{DateTime, Days, NaiveDate, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::model::{Condition, Operand, Operator, Rule};
use crate::value::{self, When};

impl Condition {
    /// Whether `context` satisfies the condition at `now`, reading dates
    /// without an offset as UTC. Never panics; see the crate docs for the
    /// rules.
    pub fn evaluate(&self, context: &Value, now: DateTime<Utc>) -> bool {
        self.evaluate_in(context, now, Tz::UTC)
    }

    /// Like [`evaluate`](Self::evaluate), reading dates without an offset
    /// (`2024-05-01`, `2024-05-01T08:00`) and "today" for
    /// `within_last_days` in `zone`, the workspace's time zone.
    pub fn evaluate_in(&self, context: &Value, now: DateTime<Utc>, zone: Tz) -> bool {
        match self {
            Condition::All(children) => children.iter().all(|c| c.evaluate_in(context, now, zone)),
            Condition::Any(children) => children.iter().any(|c| c.evaluate_in(context, now, zone)),
            Condition::Rule(rule) => rule.evaluate_in(context, now, zone),
        }
    }
}

impl Rule {
    /// Whether `context` satisfies this rule at `now` (dates without an
    /// offset read as UTC).
    pub fn evaluate(&self, context: &Value, now: DateTime<Utc>) -> bool {
        self.evaluate_in(context, now, Tz::UTC)
    }

    /// Whether `context` satisfies this rule at `now`, reading dates without
    /// an offset in `zone`.
    pub fn evaluate_in(&self, context: &Value, now: DateTime<Utc>, zone: Tz) -> bool {
        let Ok(operand) = self.operand() else {
            // A malformed rule matches nothing, negations included: guessing
            // would send customers down a branch nobody designed.
            return false;
        };
        let Some(field) = lookup(context, &self.field).filter(|v| !v.is_null()) else {
            return self.op.matches_missing();
        };
        match (self.op, operand) {
            (Operator::Eq, Operand::Any(v)) => value::loose_eq(field, v),
            (Operator::Ne, Operand::Any(v)) => !value::loose_eq(field, v),
            (Operator::Gt, Operand::Ordered(v)) => ordered(field, v, zone, Ordering::is_gt),
            (Operator::Gte, Operand::Ordered(v)) => ordered(field, v, zone, Ordering::is_ge),
            (Operator::Lt, Operand::Ordered(v)) => ordered(field, v, zone, Ordering::is_lt),
            (Operator::Lte, Operand::Ordered(v)) => ordered(field, v, zone, Ordering::is_le),
            (Operator::Between, Operand::Range(lo, hi)) => {
                ordered(field, lo, zone, Ordering::is_ge)
                    && ordered(field, hi, zone, Ordering::is_le)
            }
            (Operator::Contains, Operand::Text(v)) => contains(field, v),
            (Operator::NotContains, Operand::Text(v)) => !contains(field, v),
            (Operator::StartsWith, Operand::Text(v)) => {
                text_test(field, v, |h, n| h.starts_with(n))
            }
            (Operator::EndsWith, Operand::Text(v)) => text_test(field, v, |h, n| h.ends_with(n)),
            (Operator::In, Operand::List(items)) => is_in(field, items),
            (Operator::NotIn, Operand::List(items)) => !is_in(field, items),
            (Operator::IsEmpty, _) => is_empty(field),
            (Operator::IsNotEmpty, _) => !is_empty(field),
            (Operator::Exists, _) => true,
            (Operator::NotExists, _) => false,
            (Operator::Before, Operand::Date(v)) => {
                instant(field, zone).is_some_and(|t| t < v.instant(zone))
            }
            (Operator::After, Operand::Date(v)) => {
                instant(field, zone).is_some_and(|t| t > v.instant(zone))
            }
            (Operator::WithinLastDays, Operand::Days(days)) => {
                within_last_days(field, days, now, zone)
            }
            (Operator::HasTag, Operand::Tag(tag)) => has_tag(field, tag),
            (Operator::NotHasTag, Operand::Tag(tag)) => !has_tag(field, tag),
            // `operand()` pairs each operator with its own shape; anything
            // else is unreachable, and false is the safe answer.
            _ => false,
        }
    }
}

/// Follows a dotted path through objects; a numeric segment indexes a list.
pub(crate) fn lookup<'a>(context: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.')
        .try_fold(context, |node, segment| match node {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

fn ordered(field: &Value, v: &Value, zone: Tz, accept: fn(Ordering) -> bool) -> bool {
    value::order(field, v, zone).is_some_and(accept)
}

/// Text holds the needle (case-insensitive); a list holds an equal item.
fn contains(field: &Value, needle: &Value) -> bool {
    match field {
        Value::Array(items) => items.iter().any(|item| value::loose_eq(item, needle)),
        _ => text_test(field, needle, |h, n| h.contains(n)),
    }
}

fn text_test(field: &Value, needle: &Value, test: fn(&str, &str) -> bool) -> bool {
    match (value::as_text(field), value::as_text(needle)) {
        (Some(h), Some(n)) => test(&value::fold(&h), &value::fold(&n)),
        _ => false,
    }
}

/// The field equals a candidate; a list field shares at least one item.
fn is_in(field: &Value, candidates: &[Value]) -> bool {
    let one_of = |v: &Value| candidates.iter().any(|c| value::loose_eq(v, c));
    match field {
        Value::Array(items) => items.iter().any(one_of),
        _ => one_of(field),
    }
}

fn is_empty(field: &Value) -> bool {
    match field {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn instant(field: &Value, zone: Tz) -> Option<DateTime<Utc>> {
    value::parse_when(field).map(|w| w.instant(zone))
}

/// Between `now - days` and `now`, both included. A calendar date compares
/// by day in `zone`, so "within the last 7 days" keeps a date 7 days ago
/// whatever the time of day.
fn within_last_days(field: &Value, days: u64, now: DateTime<Utc>, zone: Tz) -> bool {
    match value::parse_when(field) {
        Some(When::Day(day)) => {
            let today = local_date(now, zone);
            let first = today.checked_sub_days(Days::new(days));
            day <= today && first.is_none_or(|first| day >= first)
        }
        Some(when) => {
            let at = when.instant(zone);
            let first = i64::try_from(days)
                .ok()
                .and_then(TimeDelta::try_days)
                .and_then(|span| now.checked_sub_signed(span));
            at <= now && first.is_none_or(|first| at >= first)
        }
        None => false,
    }
}

/// `now`'s calendar date in `zone`; at the very ends of chrono's range,
/// where the local date does not exist, the UTC date.
fn local_date(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    let utc = now.naive_utc();
    utc.checked_add_offset(zone.offset_from_utc_datetime(&utc).fix())
        .unwrap_or(utc)
        .date()
}

/// Exact, case-sensitive: tags are identifiers the business chose.
fn has_tag(field: &Value, tag: &str) -> bool {
    field
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 10, 12, 0, 0).unwrap()
    }

    fn context() -> Value {
        json!({
            "customer": {
                "name": "Nguyễn Văn An",
                "city": "Hà Nội",
                "tags": ["VIPCustomer", "Loyal"],
                "phone": "0912345678",
                "email": "an.nguyen@example.vn",
                "age": 35,
                "vip": true,
                "note": "",
                "extra": {},
                "orders": [],
                "birthday": "1990-05-01",
                "last_seen": "2024-06-08T09:00:00+07:00",
                "created_at": 1717934400,
                "referrer": null
            },
            "order": {
                "total": 600000,
                "total_text": "500000",
                "items": [{"sku": "A-1", "qty": 2}]
            },
            "ticket": {"status": "Open", "priority": 3, "due": "2024-06-12"},
            "call": {"duration": 12.5, "started_at": "2024-06-10T11:00:00Z"}
        })
    }

    fn eval(field: &str, op: &str, value: Value) -> bool {
        let mut rule = json!({"field": field, "op": op});
        if !value.is_null() {
            rule["value"] = value;
        }
        Condition::from_value(&rule)
            .unwrap()
            .evaluate(&context(), now())
    }

    #[test]
    fn eq_matches_text_case_insensitively() {
        // SPEC A-N1
        assert!(eval("ticket.status", "eq", json!("open")));
        assert!(eval("customer.city", "eq", json!("HÀ NỘI")));
        assert!(!eval("customer.city", "eq", json!("Huế")));
    }

    #[test]
    fn eq_compares_numbers_numerically() {
        // SPEC A-N1
        assert!(eval("order.total", "eq", json!("600000")));
        assert!(eval("order.total_text", "eq", json!(500000)));
        assert!(eval("call.duration", "eq", json!(12.5)));
        assert!(!eval("order.total", "eq", json!(600001)));
        assert!(!eval("order.total", "eq", json!("six hundred")));
    }

    #[test]
    fn eq_keeps_leading_zeros_between_two_strings() {
        // SPEC A-N1
        assert!(eval("customer.phone", "eq", json!("0912345678")));
        assert!(!eval("customer.phone", "eq", json!("912345678")));
    }

    #[test]
    fn eq_reads_booleans_and_their_spelling() {
        // SPEC A-N1
        assert!(eval("customer.vip", "eq", json!(true)));
        assert!(eval("customer.vip", "eq", json!("true")));
        assert!(!eval("customer.vip", "eq", json!(false)));
    }

    #[test]
    fn ne_is_the_negation_of_eq_for_present_fields() {
        // SPEC A-N1
        assert!(eval("ticket.status", "ne", json!("closed")));
        assert!(!eval("ticket.status", "ne", json!("OPEN")));
        assert!(!eval("order.total", "ne", json!("600000")));
    }

    #[test]
    fn gt_compares_numeric_strings_as_numbers() {
        // SPEC A-N1
        assert!(eval("order.total_text", "gt", json!(400000)));
        assert!(!eval("order.total_text", "gt", json!(500000)));
        assert!(eval("order.total", "gt", json!("500000")));
        // As numbers "10" > "9", though as text it sorts first.
        let ten = Condition::from_value(&json!({"field": "n", "op": "gt", "value": "9"})).unwrap();
        assert!(ten.evaluate(&json!({"n": "10"}), now()));
    }

    #[test]
    fn gte_lt_lte_include_or_exclude_the_bound() {
        // SPEC A-N1
        assert!(eval("order.total", "gte", json!(600000)));
        assert!(!eval("order.total", "gte", json!(600001)));
        assert!(eval("order.total", "lt", json!(600001)));
        assert!(!eval("order.total", "lt", json!(600000)));
        assert!(eval("order.total", "lte", json!(600000)));
        assert!(!eval("order.total", "lte", json!(599999)));
        assert!(eval("call.duration", "lt", json!(13)));
    }

    #[test]
    fn ordering_operators_order_dates_as_instants() {
        // SPEC A-N1
        assert!(eval("ticket.due", "gt", json!("2024-06-11")));
        assert!(eval(
            "customer.last_seen",
            "lt",
            json!("2024-06-08T03:00:00Z")
        ));
        assert!(!eval(
            "customer.last_seen",
            "gt",
            json!("2024-06-08T03:00:00Z")
        ));
    }

    #[test]
    fn ordering_operators_are_false_for_values_that_do_not_order() {
        // SPEC A-N1
        assert!(!eval("customer.name", "gt", json!(5)));
        assert!(!eval("customer.name", "lte", json!(5)));
        assert!(!eval("customer.tags", "gt", json!(1)));
    }

    #[test]
    fn between_includes_both_ends() {
        // SPEC A-N1
        assert!(eval("ticket.priority", "between", json!([1, 3])));
        assert!(eval("ticket.priority", "between", json!([3, 5])));
        assert!(eval("order.total", "between", json!(["500000", 700000])));
        assert!(!eval("ticket.priority", "between", json!([4, 5])));
        assert!(!eval("ticket.priority", "between", json!([3, 1])));
        assert!(eval(
            "ticket.due",
            "between",
            json!(["2024-06-01", "2024-06-30"])
        ));
    }

    #[test]
    fn contains_matches_vietnamese_text_case_insensitively() {
        // SPEC A-N1
        assert!(eval("customer.name", "contains", json!("NGUYỄN")));
        assert!(eval("customer.name", "contains", json!("văn")));
        // Different diacritics are different letters.
        assert!(!eval("customer.name", "contains", json!("Nguyen")));
    }

    #[test]
    fn contains_finds_items_in_lists_and_digits_in_numbers() {
        // SPEC A-N1
        assert!(eval("customer.tags", "contains", json!("loyal")));
        assert!(!eval("customer.tags", "contains", json!("Churned")));
        assert!(eval("order.total", "contains", json!("600")));
        assert!(!eval("customer.extra", "contains", json!("x")));
    }

    #[test]
    fn not_contains_is_the_negation_of_contains() {
        // SPEC A-N1
        assert!(eval("customer.name", "not_contains", json!("Trần")));
        assert!(!eval("customer.name", "not_contains", json!("nguyễn")));
        assert!(eval("customer.tags", "not_contains", json!("Churned")));
    }

    #[test]
    fn starts_with_and_ends_with_ignore_case() {
        // SPEC A-N1
        assert!(eval("customer.name", "starts_with", json!("nguyễn")));
        assert!(!eval("customer.name", "starts_with", json!("Văn")));
        assert!(eval("customer.name", "ends_with", json!("AN")));
        assert!(!eval("customer.name", "ends_with", json!("Nguyễn")));
        assert!(eval("customer.phone", "starts_with", json!("091")));
        assert!(eval("customer.email", "ends_with", json!("@EXAMPLE.VN")));
        assert!(!eval("customer.tags", "starts_with", json!("VIP")));
    }

    #[test]
    fn in_matches_one_of_the_listed_values() {
        // SPEC A-N1
        assert!(eval("customer.city", "in", json!(["hà nội", "Huế"])));
        assert!(!eval("customer.city", "in", json!(["Đà Nẵng", "Huế"])));
        assert!(eval("ticket.priority", "in", json!(["3", 4])));
    }

    #[test]
    fn in_on_a_list_field_needs_one_shared_item() {
        // SPEC A-N1
        assert!(eval("customer.tags", "in", json!(["Loyal", "New"])));
        assert!(!eval("customer.tags", "in", json!(["New"])));
        assert!(!eval("customer.orders", "in", json!(["New"])));
    }

    #[test]
    fn not_in_is_the_negation_of_in() {
        // SPEC A-N1
        assert!(eval("customer.city", "not_in", json!(["Huế"])));
        assert!(!eval("customer.city", "not_in", json!(["HÀ NỘI"])));
    }

    #[test]
    fn is_empty_treats_blank_values_as_empty() {
        // SPEC A-N1
        for field in [
            "customer.note",
            "customer.extra",
            "customer.orders",
            "customer.referrer",
            "customer.missing",
        ] {
            assert!(eval(field, "is_empty", Value::Null), "{field}");
            assert!(!eval(field, "is_not_empty", Value::Null), "{field}");
        }
        for field in [
            "customer.name",
            "customer.tags",
            "customer.age",
            "customer.vip",
        ] {
            assert!(!eval(field, "is_empty", Value::Null), "{field}");
            assert!(eval(field, "is_not_empty", Value::Null), "{field}");
        }
    }

    #[test]
    fn exists_is_true_for_present_non_null_values_even_blank_ones() {
        // SPEC A-N1
        assert!(eval("customer.note", "exists", Value::Null));
        assert!(!eval("customer.note", "not_exists", Value::Null));
        assert!(!eval("customer.referrer", "exists", Value::Null));
        assert!(eval("customer.referrer", "not_exists", Value::Null));
        assert!(!eval("customer.missing", "exists", Value::Null));
        assert!(eval("customer.missing", "not_exists", Value::Null));
    }

    #[test]
    fn before_and_after_compare_instants_across_formats() {
        // SPEC A-N1
        assert!(eval("customer.birthday", "before", json!("2000-01-01")));
        assert!(!eval("customer.birthday", "after", json!("2000-01-01")));
        // 2024-06-08T09:00+07:00 is 02:00 UTC.
        assert!(eval(
            "customer.last_seen",
            "after",
            json!("2024-06-08T01:59:59Z")
        ));
        assert!(!eval(
            "customer.last_seen",
            "after",
            json!("2024-06-08T02:00:00Z")
        ));
        assert!(!eval(
            "customer.last_seen",
            "before",
            json!("2024-06-08T02:00:00Z")
        ));
        // Unix seconds on either side.
        assert!(eval("customer.created_at", "after", json!("2024-06-09")));
        assert!(eval("customer.birthday", "before", json!(1_000_000_000)));
        assert!(!eval("customer.name", "before", json!("2024-01-01")));
    }

    #[test]
    fn before_reads_dates_without_offset_in_the_given_zone() {
        // SPEC A-N1
        let rule = Condition::from_value(
            &json!({"field": "call.started_at", "op": "before", "value": "2024-06-10T18:30"}),
        )
        .unwrap();
        // The call started 11:00 UTC, 18:00 in Ho Chi Minh City (UTC+7).
        assert!(rule.evaluate_in(&context(), now(), chrono_tz::Asia::Ho_Chi_Minh));
        assert!(rule.evaluate(&context(), now()));
        let rule = Condition::from_value(
            &json!({"field": "call.started_at", "op": "before", "value": "2024-06-10T17:30"}),
        )
        .unwrap();
        assert!(!rule.evaluate_in(&context(), now(), chrono_tz::Asia::Ho_Chi_Minh));
        assert!(rule.evaluate(&context(), now()));
    }

    #[test]
    fn within_last_days_includes_now_and_the_window_start() {
        // SPEC A-N1
        let at = |t: &str| json!({"customer": {"seen": t}});
        let check = |t: &str, days: u64| {
            Condition::from_value(
                &json!({"field": "customer.seen", "op": "within_last_days", "value": days}),
            )
            .unwrap()
            .evaluate(&at(t), now())
        };
        assert!(check("2024-06-10T12:00:00Z", 1));
        assert!(check("2024-06-03T12:00:00Z", 7));
        assert!(!check("2024-06-03T11:59:59Z", 7));
        assert!(
            !check("2024-06-10T12:00:01Z", 7),
            "the future is not in the past"
        );
        assert!(check("2024-06-09T13:00:00Z", 1));
        assert!(!check("2024-06-09T11:00:00Z", 1));
    }

    #[test]
    fn within_last_days_counts_calendar_days_for_dates() {
        // SPEC A-N1
        let at = |t: &str| json!({"customer": {"seen": t}});
        let rule = |days: u64| {
            Condition::from_value(
                &json!({"field": "customer.seen", "op": "within_last_days", "value": days}),
            )
            .unwrap()
        };
        assert!(rule(7).evaluate(&at("2024-06-03"), now()));
        assert!(rule(7).evaluate(&at("2024-06-10"), now()));
        assert!(!rule(7).evaluate(&at("2024-06-02"), now()));
        assert!(!rule(7).evaluate(&at("2024-06-11"), now()));
        // At 20:00 UTC it is already 2024-06-11 in Ho Chi Minh City.
        let evening = Utc.with_ymd_and_hms(2024, 6, 10, 20, 0, 0).unwrap();
        let zone = chrono_tz::Asia::Ho_Chi_Minh;
        assert!(rule(1).evaluate_in(&at("2024-06-11"), evening, zone));
        assert!(!rule(1).evaluate_in(&at("2024-06-09"), evening, zone));
        assert!(rule(1).evaluate(&at("2024-06-09"), evening));
    }

    #[test]
    fn within_last_days_survives_huge_windows() {
        // SPEC A-N1
        let rule = Condition::from_value(
            &json!({"field": "customer.birthday", "op": "within_last_days", "value": u64::MAX}),
        )
        .unwrap();
        assert!(rule.evaluate(&context(), now()));
        let rule = Condition::from_value(
            &json!({"field": "customer.last_seen", "op": "within_last_days", "value": u64::MAX}),
        )
        .unwrap();
        assert!(rule.evaluate(&context(), now()));
        assert!(!eval("customer.name", "within_last_days", json!(3)));
    }

    #[test]
    fn has_tag_matches_tags_exactly() {
        // SPEC A-N1
        assert!(eval("customer.tags", "has_tag", json!("VIPCustomer")));
        assert!(!eval("customer.tags", "has_tag", json!("vipcustomer")));
        assert!(!eval("customer.tags", "has_tag", json!("VIP")));
        assert!(!eval("customer.name", "has_tag", json!("Nguyễn Văn An")));
    }

    #[test]
    fn not_has_tag_is_the_negation_of_has_tag() {
        // SPEC A-N1
        assert!(eval("customer.tags", "not_has_tag", json!("Churned")));
        assert!(eval("customer.tags", "not_has_tag", json!("vipcustomer")));
        assert!(!eval("customer.tags", "not_has_tag", json!("VIPCustomer")));
    }

    #[test]
    fn missing_fields_fail_every_operator_but_the_negative_ones() {
        // SPEC A-N1
        let value_for = |op: Operator| match op {
            Operator::Between => json!([1, 2]),
            Operator::In | Operator::NotIn => json!(["a"]),
            Operator::Before | Operator::After => json!("2024-01-01"),
            Operator::WithinLastDays => json!(7),
            Operator::IsEmpty | Operator::IsNotEmpty | Operator::Exists | Operator::NotExists => {
                Value::Null
            }
            _ => json!("a"),
        };
        let expected_true = [
            Operator::IsEmpty,
            Operator::NotExists,
            Operator::Ne,
            Operator::NotIn,
            Operator::NotContains,
            Operator::NotHasTag,
        ];
        for field in [
            "customer.nope",
            "nope.deeper",
            "customer.referrer",
            "customer.name.x",
            "",
        ] {
            for op in Operator::ALL {
                assert_eq!(
                    eval(field, op.as_str(), value_for(op)),
                    expected_true.contains(&op),
                    "{field} {op}"
                );
            }
        }
    }

    #[test]
    fn malformed_values_match_nothing_not_even_negations() {
        // SPEC A-N1
        assert!(!eval("customer.city", "not_in", json!("Huế")));
        assert!(!eval("customer.nope", "not_in", json!("Huế")));
        assert!(!eval("customer.nope", "ne", Value::Null));
        assert!(!eval("ticket.priority", "between", json!([1])));
        assert!(!eval(
            "customer.tags",
            "not_has_tag",
            json!(["VIPCustomer"])
        ));
        assert!(!eval("customer.last_seen", "within_last_days", json!(-1)));
        assert!(!eval("customer.last_seen", "within_last_days", json!(0)));
        assert!(!eval("customer.last_seen", "before", json!("soon")));
        assert!(!eval("customer.name", "not_contains", json!({"a": 1})));
        assert!(!eval("order.total", "gt", json!([1])));
    }

    #[test]
    fn valueless_operators_ignore_a_stray_value() {
        // SPEC A-N1
        assert!(eval("customer.nope", "not_exists", json!("x")));
        assert!(eval("customer.note", "is_empty", json!(["x"])));
        assert!(!eval("customer.note", "is_not_empty", json!(1)));
    }

    #[test]
    fn paths_index_into_lists() {
        // SPEC A-N1
        assert!(eval("order.items.0.sku", "eq", json!("a-1")));
        assert!(!eval("order.items.1.sku", "exists", Value::Null));
        assert!(!eval("order.items.x.sku", "exists", Value::Null));
    }

    #[test]
    fn empty_all_is_true_and_empty_any_is_false() {
        // SPEC A-N1
        assert!(Condition::All(vec![]).evaluate(&context(), now()));
        assert!(!Condition::Any(vec![]).evaluate(&context(), now()));
    }

    #[test]
    fn nested_groups_combine_all_and_any() {
        // SPEC A-N1
        let condition = Condition::from_value(&json!({"any": [
            {"all": [
                {"field": "ticket.status", "op": "eq", "value": "closed"},
                {"field": "ticket.priority", "op": "gte", "value": 1}
            ]},
            {"all": [
                {"field": "customer.age", "op": "between", "value": [18, 40]},
                {"any": [
                    {"field": "customer.city", "op": "eq", "value": "Huế"},
                    {"field": "customer.email", "op": "ends_with", "value": ".vn"}
                ]}
            ]}
        ]}))
        .unwrap();
        assert!(condition.evaluate(&context(), now()));
        let mut other = context();
        other["customer"]["email"] = json!("an@example.com");
        assert!(!condition.evaluate(&other, now()));
        other["ticket"]["status"] = json!("CLOSED");
        assert!(condition.evaluate(&other, now()));
    }

    #[test]
    fn vip_customer_example_branches_on_tag_total_and_city() {
        // SPEC A-N1
        let condition: Condition = serde_json::from_str(
            r#"{"all": [ {"field": "customer.tags", "op": "has_tag", "value": "VIPCustomer"},
                  {"any": [ {"field": "order.total", "op": "gt", "value": 500000},
                            {"field": "customer.city", "op": "in", "value": ["Hà Nội", "Huế"]} ]} ]}"#,
        )
        .unwrap();
        let customer = |tags: Value, city: &str, total: Value| json!({"customer": {"tags": tags, "city": city}, "order": {"total": total}});
        let vip = json!(["VIPCustomer"]);
        assert!(condition.evaluate(&customer(vip.clone(), "Cần Thơ", json!(600000)), now()));
        assert!(condition.evaluate(&customer(vip.clone(), "HUẾ", json!(100)), now()));
        assert!(condition.evaluate(&customer(vip.clone(), "hà nội", json!("1")), now()));
        assert!(!condition.evaluate(&customer(vip.clone(), "Cần Thơ", json!("500000")), now()));
        assert!(!condition.evaluate(
            &customer(json!(["vipcustomer"]), "Huế", json!(600000)),
            now()
        ));
        assert!(!condition.evaluate(&json!({"order": {"total": 900000}}), now()));
    }

    #[test]
    fn never_panics_on_odd_contexts() {
        // SPEC A-N1
        let condition = Condition::from_value(&json!({"any": [
            {"field": "a.b", "op": "gt", "value": 1e308},
            {"field": "a.b", "op": "after", "value": -1e14},
            {"field": "a.b", "op": "within_last_days", "value": 1},
            {"field": "a", "op": "contains", "value": ""},
            {"field": ".", "op": "eq", "value": 1},
            {"field": "a.b", "op": "before", "value": "-262143-01-01"},
            {"field": "a.b", "op": "after", "value": "+262142-12-31T23:59"},
            {"field": "a.b", "op": "between", "value": ["-262143-01-01", "+262142-12-31"]}
        ]}))
        .unwrap();
        for context in [
            json!(null),
            json!([]),
            json!("a"),
            json!({"a": {"b": i64::MIN}}),
            json!({"a": {"b": u64::MAX}}),
            json!({"a": {"b": "+262143-12-31T23:59:59Z"}}),
            json!({"a": {"b": 1e300}}),
            json!({"a": {"b": "+262142-12-31"}}),
            json!({"a": {"b": "-262143-01-01T00:00"}}),
        ] {
            for now in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
                let _ = condition.evaluate(&context, now);
                let _ = condition.evaluate_in(&context, now, chrono_tz::Asia::Ho_Chi_Minh);
                let _ = condition.evaluate_in(&context, now, chrono_tz::America::New_York);
            }
        }
    }
}
