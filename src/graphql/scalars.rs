//! Scalars shared by the Portal types: `Decimal` (an exact decimal written as a string) and
//! `Money` (an amount with its currency).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};

use crate::services::shared::money;

/// An exact decimal number, kept as text (see the scalar's description).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

/// An exact decimal number, always written as a string (`"1250.00"`) so that no client
/// parses it into floating point. Input is accepted only as a string of digits with an
/// optional leading `-` and decimal part; exponents, `NaN` and numbers are refused. The
/// scale given is kept.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => money::normalize(text).map(Decimal).ok_or_else(|| {
                InputValueError::custom("a Decimal is a decimal number like \"1250.00\"")
            }),
            _ => Err(InputValueError::custom(
                "a Decimal must be written as a string, like \"1250.00\"",
            )),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if money::normalize(text).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// An amount of money in a currency.
#[derive(Debug, Clone, SimpleObject)]
pub struct Money {
    /// The exact amount.
    pub amount: Decimal,
    /// ISO 4217 currency code, like `EUR`.
    pub currency: String,
}

impl Money {
    /// An amount as stored (already normalised text) in `currency`.
    pub fn new(amount: &str, currency: &str) -> Self {
        Money {
            amount: Decimal(amount.to_owned()),
            currency: currency.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_accepted_only_as_decimal_strings() {
        let parsed = <Decimal as ScalarType>::parse(Value::String("0010.50".into()));
        assert_eq!(parsed.ok(), Some(Decimal("10.50".into())));
        for bad in [
            Value::Number(10.into()),
            Value::String("1e3".into()),
            Value::String("NaN".into()),
            Value::Null,
        ] {
            assert!(
                <Decimal as ScalarType>::parse(bad.clone()).is_err(),
                "{bad:?}"
            );
            assert!(!<Decimal as ScalarType>::is_valid(&bad));
        }
        assert_eq!(
            Decimal("1250.00".into()).to_value(),
            Value::String("1250.00".into())
        );
    }
}
