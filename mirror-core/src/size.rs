//! Byte sizes as users write them (`1000GiB`, `500G`, `1.5TiB`) and as reports show them.

use crate::error::Error;

/// Parse a size: a number (decimals allowed) and an optional unit, case-insensitive, spaces
/// allowed between them.
///
/// Binary units `KiB`, `MiB`, `GiB`, `TiB`, `PiB` are powers of 1024; `K`/`KB`, `M`/`MB`,
/// `G`/`GB`, `T`/`TB`, `P`/`PB` are powers of 1000, as `df -H` and disk vendors count; `B` or
/// no unit means bytes. The result is rounded down to whole bytes.
///
/// A bad size is [`Error::InvalidSize`], whose hint shows the accepted forms.
pub fn parse_size(input: &str) -> Result<u64, Error> {
    let bad = |reason: &str| Error::InvalidSize {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let text = input.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(bad("expected a number first"));
    }
    if number.starts_with('.') || number.ends_with('.') || number.matches('.').count() > 1 {
        return Err(bad(&format!("`{number}` is not a number")));
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000_u64.pow(2),
        "g" | "gb" => 1000_u64.pow(3),
        "t" | "tb" => 1000_u64.pow(4),
        "p" | "pb" => 1000_u64.pow(5),
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        "pi" | "pib" => 1 << 50,
        other => return Err(bad(&format!("unknown unit `{other}`"))),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let too_big = || bad("too large");
    let whole: u64 = whole.parse().map_err(|_| too_big())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_big)?;
    if !frac.is_empty() {
        // Exact decimal arithmetic on at most 18 fraction digits.
        let digits = &frac[..frac.len().min(18)];
        let scale = 10_u128.pow(digits.len() as u32);
        let part = digits.parse::<u128>().map_err(|_| too_big())? * u128::from(multiplier) / scale;
        bytes = bytes
            .checked_add(u64::try_from(part).map_err(|_| too_big())?)
            .ok_or_else(too_big)?;
    }
    Ok(bytes)
}

/// A size in binary units with up to four significant digits (`1000GiB`, `1.5TiB`, `12.34MiB`),
/// trailing zeros dropped.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}B");
    }
    let decimals = if value >= 100.0 {
        1
    } else if value >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases: [(&str, Result<u64, &str>); 24] = [
            ("1000GiB", Ok(1000 << 30)),
            ("1000 GiB", Ok(1000 << 30)),
            ("1000gib", Ok(1000 << 30)),
            ("500G", Ok(500_000_000_000)),
            ("500GB", Ok(500_000_000_000)),
            ("1.5TiB", Ok(3 << 39)),
            ("1.5T", Ok(1_500_000_000_000)),
            ("0.5KiB", Ok(512)),
            ("1MiB", Ok(1 << 20)),
            ("1Mi", Ok(1 << 20)),
            ("4096", Ok(4096)),
            ("4096B", Ok(4096)),
            ("0", Ok(0)),
            (" 2 PiB ", Ok(2 << 50)),
            ("1.0000000001GiB", Ok(1 << 30)),
            ("16EiB", Err("invalid size `16EiB`: unknown unit `eib`")),
            ("GiB", Err("invalid size `GiB`: expected a number first")),
            ("", Err("invalid size ``: expected a number first")),
            ("-1G", Err("invalid size `-1G`: expected a number first")),
            (
                "1.2.3G",
                Err("invalid size `1.2.3G`: `1.2.3` is not a number"),
            ),
            (".5G", Err("invalid size `.5G`: `.5` is not a number")),
            ("5.G", Err("invalid size `5.G`: `5.` is not a number")),
            (
                "1000 GiB free",
                Err("invalid size `1000 GiB free`: unknown unit `gib free`"),
            ),
            (
                "99999999999PiB",
                Err("invalid size `99999999999PiB`: too large"),
            ),
        ];
        let got: Vec<_> = cases
            .iter()
            .map(|(i, _)| (*i, parse_size(i).map_err(|e| e.to_string())))
            .collect();
        let want: Vec<_> = cases
            .iter()
            .map(|(i, w)| (*i, w.map_err(str::to_string)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn format_table() {
        let cases = [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1KiB"),
            (1536, "1.5KiB"),
            (1000 << 30, "1000GiB"),
            (3 << 39, "1.5TiB"),
            (12_939_428, "12.34MiB"),
            (500_000_000_000, "465.7GiB"),
        ];
        let got: Vec<_> = cases.iter().map(|(n, _)| (*n, format_size(*n))).collect();
        assert_eq!(
            got,
            cases
                .iter()
                .map(|(n, s)| (*n, s.to_string()))
                .collect::<Vec<_>>()
        );
    }
}
