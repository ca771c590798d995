//! The training carriers, offered through Merchant Fulfillment and Shipping API v2 alike: their
//! services and prices, tracking ids in each carrier's shape with its check digit, the address
//! lines a label shows, and times as Amazon writes them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// A service the training carriers offer (through Merchant Fulfillment and Shipping API v2
/// alike).
pub(crate) struct Service {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) carrier: &'static str,
    /// Transit days, fastest and slowest.
    pub(crate) days: (i64, i64),
    base: f64,
    per_lb: f64,
    /// The heaviest package it takes, in ounces.
    pub(crate) max_oz: f64,
}

impl Service {
    /// The pounds billed for a package: its weight or its dimensional weight (length × width ×
    /// height in inches / 139), whichever is more, rounded up, at least one.
    pub(crate) fn billable_lb(weight_oz: f64, dims_in: Option<(f64, f64, f64)>) -> f64 {
        let weight_lb = weight_oz / 16.0;
        let dim_lb = dims_in.map_or(0.0, |(l, w, h)| l * w * h / 139.0);
        weight_lb.max(dim_lb).ceil().max(1.0)
    }

    /// The price of one package, in dollars and whole cents.
    pub(crate) fn price(&self, billable_lb: f64, surcharge: f64) -> f64 {
        ((self.base + self.per_lb * billable_lb + surcharge) * 100.0).round() / 100.0
    }
}

pub(crate) const SERVICES: [Service; 5] = [
    Service {
        id: "USPS_PTP_GA",
        name: "USPS Ground Advantage",
        carrier: "USPS",
        days: (5, 8),
        base: 4.85,
        per_lb: 0.62,
        max_oz: 1120.0,
    },
    Service {
        id: "USPS_PTP_PRI",
        name: "USPS Priority Mail",
        carrier: "USPS",
        days: (2, 3),
        base: 8.95,
        per_lb: 0.94,
        max_oz: 1120.0,
    },
    Service {
        id: "UPS_PTP_GND",
        name: "UPS Ground",
        carrier: "UPS",
        days: (3, 5),
        base: 9.40,
        per_lb: 0.71,
        max_oz: 2400.0,
    },
    Service {
        id: "UPS_PTP_2ND_DAY_AIR",
        name: "UPS 2nd Day Air",
        carrier: "UPS",
        days: (2, 2),
        base: 18.60,
        per_lb: 1.65,
        max_oz: 2400.0,
    },
    Service {
        id: "FEDEX_PTP_STANDARD_OVERNIGHT",
        name: "FedEx Standard Overnight",
        carrier: "FedEx",
        days: (1, 1),
        base: 32.10,
        per_lb: 2.45,
        max_oz: 2400.0,
    },
];

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The time to the second, as Amazon writes times.
pub(crate) fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    chrono::Timelike::with_nanosecond(&t, 0).unwrap_or(t)
}

/// A tracking id in the carrier's shape, with its check digit.
pub(crate) fn tracking_id(carrier: &str, service: &str, seed: u64, n: u64) -> String {
    let serial = (seed.wrapping_mul(7_919) + n) % 10_000_000;
    match carrier {
        "UPS" => {
            let code = if service == "UPS_PTP_2ND_DAY_AIR" {
                "02"
            } else {
                "03"
            };
            let body = format!("TR41N9{code}{serial:07}");
            format!("1Z{body}{}", ups_check(&body))
        }
        "USPS" => {
            let body = format!("94001{:09}{serial:07}", seed % 1_000_000_000);
            format!("{body}{}", usps_check(&body))
        }
        _ => format!("7{:04}{serial:07}", seed % 10_000),
    }
}

/// The UPS check digit of the 15 characters after `1Z`: letters count as (ASCII − 63) mod 10,
/// characters in odd places once and in even places twice.
fn ups_check(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b).saturating_sub(63) % 10
            };
            if i % 2 == 1 { v * 2 } else { v }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The USPS IMpb check digit (mod 10, weights 3 and 1 from the right).
fn usps_check(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b.wrapping_sub(b'0')) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10
}

/// A `Shipment`'s address from an order's delivery address, cut to the model's lengths.
pub(crate) fn ship_to(order: &Value) -> Value {
    let a = &order["recipient"]["deliveryAddress"];
    let cut = |field: &str, max: usize| -> String {
        a[field]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(max)
            .collect()
    };
    let mut to = json!({
        "Name": cut("name", 30),
        "AddressLine1": cut("addressLine1", 180),
        "Email": "",
        "City": cut("city", 30),
        "PostalCode": cut("postalCode", 30),
        "CountryCode": cut("countryCode", 2),
        "Phone": cut("phone", 30),
    });
    for (from, to_field, max) in [
        ("addressLine2", "AddressLine2", 60),
        ("stateOrRegion", "StateOrProvinceCode", 30),
    ] {
        let v = cut(from, max);
        if !v.is_empty() {
            to[to_field] = json!(v);
        }
    }
    to
}

/// An address as label lines.
pub(crate) fn address_lines(a: &Value) -> Vec<String> {
    let s = |f: &str| a[f].as_str().unwrap_or_default().to_owned();
    let mut lines = vec![s("Name"), s("AddressLine1")];
    for f in ["AddressLine2", "AddressLine3"] {
        if !s(f).is_empty() {
            lines.push(s(f));
        }
    }
    lines.push(
        format!(
            "{} {} {}",
            s("City"),
            s("StateOrProvinceCode"),
            s("PostalCode")
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "),
    );
    lines.push(s("CountryCode"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_ids_carry_valid_check_digits() {
        // The check digit of UPS's published example 1Z999AA10123456784.
        assert_eq!(ups_check("999AA1012345678"), 4);
        let ups = tracking_id("UPS", "UPS_PTP_GND", 7, 1);
        assert_eq!(ups.len(), 18);
        assert!(ups.starts_with("1ZTR41N903"));
        let usps = tracking_id("USPS", "USPS_PTP_GA", 7, 1);
        assert_eq!(usps.len(), 22);
        assert!(usps.bytes().all(|b| b.is_ascii_digit()));
        // With its check digit, the weighted sum (1, 3, 1, … from the right) is a multiple of 10.
        let sum: u32 = usps
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        assert_eq!(sum % 10, 0, "{usps}");
        assert_eq!(tracking_id("FedEx", "X", 7, 1).len(), 12);
        assert_ne!(tracking_id("UPS", "UPS_PTP_GND", 7, 2), ups);
    }
}
