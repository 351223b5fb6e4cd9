//! Janus's JSON member validator (`JANUS_VALIDATE_JSON_OBJECT` in `src/utils.h`), reproduced so the
//! error texts match byte for byte.

use serde_json::{Map, Value};

use super::error::{ApiError, JanusCode};

/// The JSON type a member must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JType {
    /// A string.
    Str,
    /// An integer (any sign).
    Int,
    /// An integer ≥ 0 (Janus calls it "positive").
    PosInt,
    /// `true` or `false`.
    Bool,
    /// An object.
    Object,
    /// An array.
    Array,
}

impl JType {
    fn name(self) -> &'static str {
        match self {
            Self::Str => "a string",
            Self::Int => "an integer",
            Self::PosInt => "a positive integer",
            Self::Bool => "a boolean",
            Self::Object => "an object",
            Self::Array => "an array",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Self::Str => v.is_string(),
            Self::Int => v.is_i64() || v.is_u64(),
            Self::PosInt => v.is_u64(),
            Self::Bool => v.is_boolean(),
            Self::Object => v.is_object(),
            Self::Array => v.is_array(),
        }
    }
}

/// One member description: name, type, required.
pub(crate) type Param = (&'static str, JType, bool);

/// Which message texts to use (the core's or the JSEP variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Texts {
    /// `Missing mandatory element (x)` / `Invalid element type (x should be y)`.
    Plain,
    /// `JSEP error: missing mandatory element (x)` / `JSEP error: invalid element type (x should be y)`.
    Jsep,
}

/// Check `obj` against `params` in order; the first failure wins, as in Janus.
pub(crate) fn validate(
    obj: &Map<String, Value>,
    params: &[Param],
    texts: Texts,
) -> Result<(), ApiError> {
    for &(name, jtype, required) in params {
        match obj.get(name) {
            None => {
                if required {
                    let reason = match texts {
                        Texts::Plain => format!("Missing mandatory element ({name})"),
                        Texts::Jsep => format!("JSEP error: missing mandatory element ({name})"),
                    };
                    return Err(ApiError::new(JanusCode::MissingMandatoryElement, reason));
                }
            }
            Some(v) if !jtype.accepts(v) => {
                let t = jtype.name();
                let reason = match texts {
                    Texts::Plain => format!("Invalid element type ({name} should be {t})"),
                    Texts::Jsep => {
                        format!("JSEP error: invalid element type ({name} should be {t})")
                    }
                };
                return Err(ApiError::new(JanusCode::InvalidElementType, reason));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Janus's `json_integer_value` for an id member: integers as unsigned 64-bit (negative values
/// wrap, as the C cast does), anything else 0.
pub(crate) fn id_value(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i as u64))
            .unwrap_or(0),
        _ => 0,
    }
}

/// An optional string member.
pub(crate) fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test input is an object"),
        }
    }

    #[test]
    fn reports_first_missing_member() {
        let o = obj(json!({"janus": "x"}));
        let e = validate(
            &o,
            &[
                ("transaction", JType::Str, true),
                ("janus", JType::Str, true),
            ],
            Texts::Plain,
        )
        .unwrap_err();
        assert_eq!(e.code, JanusCode::MissingMandatoryElement);
        assert_eq!(e.reason, "Missing mandatory element (transaction)");
    }

    #[test]
    fn null_counts_as_present_and_wrong_type() {
        let o = obj(json!({"opaque_id": null}));
        let e = validate(&o, &[("opaque_id", JType::Str, false)], Texts::Plain).unwrap_err();
        assert_eq!(
            e.reason,
            "Invalid element type (opaque_id should be a string)"
        );
    }

    #[test]
    fn negative_is_not_positive_integer() {
        let o = obj(json!({"id": -1}));
        let e = validate(&o, &[("id", JType::PosInt, false)], Texts::Plain).unwrap_err();
        assert_eq!(
            e.reason,
            "Invalid element type (id should be a positive integer)"
        );
        let o = obj(json!({"id": 1.0}));
        assert!(validate(&o, &[("id", JType::PosInt, false)], Texts::Plain).is_err());
    }

    #[test]
    fn jsep_texts_have_prefix() {
        let o = obj(json!({"type": "offer"}));
        let e = validate(
            &o,
            &[("type", JType::Str, true), ("sdp", JType::Str, true)],
            Texts::Jsep,
        )
        .unwrap_err();
        assert_eq!(e.reason, "JSEP error: missing mandatory element (sdp)");
    }

    #[test]
    fn id_value_wraps_negatives_like_c() {
        assert_eq!(id_value(Some(&json!(-1))), u64::MAX);
        assert_eq!(id_value(Some(&json!("5"))), 0);
        assert_eq!(id_value(None), 0);
        assert_eq!(id_value(Some(&json!(42))), 42);
    }
}
