//! Validation of parameter text: plain decimal numbers, exact choices, string lengths,
//! LOG_LEVEL token lists and MAJORITY_GROUPS lists.

use super::error::ParamError;
use crate::logging::bits;

/// A plain decimal number (digits only, like DCF's `cm_check_is_number`) within min..=max.
pub(crate) fn number_in(
    name: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ParamError> {
    let n = plain_decimal(name, value)?;
    match n {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ParamError::OutOfRange {
            name,
            value: value.to_string(),
            min,
            max,
        }),
    }
}

/// Digits only. `Ok(None)` means the number does not fit in u64 (so it is out of any range).
fn plain_decimal(name: &'static str, value: &str) -> Result<Option<u64>, ParamError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParamError::NotANumber {
            name,
            value: value.to_string(),
        });
    }
    Ok(value.bytes().try_fold(0u64, |acc, b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    }))
}

/// A number that must be exactly one of `allowed` (`text` lists them for the message).
pub(crate) fn one_of(
    name: &'static str,
    value: &str,
    allowed: &[u32],
    text: &'static str,
) -> Result<u32, ParamError> {
    let n = plain_decimal(name, value)?;
    match n.and_then(|n| u32::try_from(n).ok()) {
        Some(n) if allowed.contains(&n) => Ok(n),
        _ => Err(ParamError::NotAllowed {
            name,
            value: value.to_string(),
            allowed: text,
        }),
    }
}

/// DCF's string parameters have fixed C buffers; `max_len` excludes the NUL. Interior NULs
/// cannot come from C and would truncate the value there, so they are refused.
pub(crate) fn check_len(name: &'static str, value: &str, max_len: usize) -> Result<(), ParamError> {
    if value.len() > max_len {
        return Err(ParamError::TooLong {
            name,
            len: value.len(),
            max: max_len,
        });
    }
    if value.contains('\0') {
        return Err(ParamError::Invalid {
            name,
            value: String::new(),
            reason: "contains a NUL byte".to_string(),
        });
    }
    Ok(())
}

/// LOG_LEVEL: `TOKEN|TOKEN|...` (any case, spaces around tokens ignored) or NONE; empty
/// means the default. We also accept the decimal mask that `get` returns, so a value read
/// back can be set again (DCF refused its own output).
pub(crate) fn log_level_mask(name: &'static str, value: &str) -> Result<u32, ParamError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(bits::DEFAULT);
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let n = number_in(name, trimmed, 0, u64::from(bits::ALL))?;
        let mask = n as u32;
        if mask & !bits::ALL != 0 {
            return Err(ParamError::Invalid {
                name,
                value: value.to_string(),
                reason: format!("mask has bits outside {:#x}", bits::ALL),
            });
        }
        return Ok(mask);
    }
    let mut mask = 0;
    for token in trimmed.split('|').map(str::trim) {
        if token.eq_ignore_ascii_case("NONE") {
            continue;
        }
        match bits::TOKENS
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(token))
        {
            Some((_, bit)) => mask |= bit,
            None => {
                return Err(ParamError::NotAllowed {
                    name,
                    value: value.to_string(),
                    allowed: "NONE or tokens RUN_ERR|RUN_WAR|RUN_INF|DEBUG_ERR|DEBUG_WAR|DEBUG_INF|MEC|OPER|TRACE|PROFILE",
                })
            }
        }
    }
    Ok(mask)
}

/// MAJORITY_GROUPS: comma-separated group ids, "" = none. Duplicates are dropped (DCF
/// dedups too); there is no item limit beyond the 1023-byte length (DCF overflowed at 128).
pub(crate) fn group_list(name: &'static str, value: &str) -> Result<Vec<u32>, ParamError> {
    check_len(name, value, 1023)?;
    let mut groups = Vec::new();
    if value.trim().is_empty() {
        return Ok(groups);
    }
    for (i, item) in value.split(',').map(str::trim).enumerate() {
        let bad = |reason: String| ParamError::Invalid {
            name,
            value: value.to_string(),
            reason,
        };
        if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("item {} ({item:?}) is not a group id", i + 1)));
        }
        let id = item
            .parse::<u32>()
            .map_err(|_| bad(format!("item {} ({item}) is above {}", i + 1, u32::MAX)))?;
        if !groups.contains(&id) {
            groups.push(id);
        }
    }
    Ok(groups)
}
