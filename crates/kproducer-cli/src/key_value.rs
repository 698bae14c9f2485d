//! `key=value` command-line arguments (`--property`, `--header`), parsed by
//! us rather than by clap so that a malformed one is a one-line error.

use crate::error::CliError;

/// Splits `text` at its first `=`; the value may contain `=`. Both sides
/// are trimmed; the key must not be empty. `flag` names the flag in errors.
pub(crate) fn parse_key_value(flag: &str, text: &str) -> Result<(String, String), CliError> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(CliError::Usage(format!(
            "{flag} {text:?} has no '=': write it as key=value, e.g. {flag} linger.ms=10"
        )));
    };
    let key = key.trim();
    if key.is_empty() {
        // Not echoed: the value may be a password given without its key.
        return Err(CliError::Usage(format!(
            "a {flag} argument has an empty key: write it as key=value, e.g. {flag} linger.ms=10"
        )));
    }
    Ok((key.to_owned(), value.trim().to_owned()))
}

/// Parses every argument of a repeatable `key=value` flag.
pub(crate) fn parse_all(flag: &str, texts: &[String]) -> Result<Vec<(String, String)>, CliError> {
    texts.iter().map(|t| parse_key_value(flag, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_the_first_equals() {
        assert_eq!(
            parse_key_value("--property", " sasl.jaas.config = a=b ").unwrap(),
            ("sasl.jaas.config".into(), "a=b".into())
        );
        assert_eq!(
            parse_key_value("--header", "k=").unwrap(),
            ("k".into(), String::new())
        );
    }

    #[test]
    fn malformed_ones_say_how_to_write_them() {
        for bad in ["linger.ms", "=5", " =5"] {
            let e = parse_key_value("--property", bad).unwrap_err().to_string();
            assert!(e.contains("key=value"), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}
