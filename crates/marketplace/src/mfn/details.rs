//! A Merchant Fulfillment `ShipmentRequestDetails`, validated as Amazon validates it.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub(super) const LABEL_FORMATS: [&str; 3] = ["PDF", "PNG", "ZPL203"];
const DELIVERY_EXPERIENCES: [&str; 4] = [
    "DeliveryConfirmationWithAdultSignature",
    "DeliveryConfirmationWithSignature",
    "DeliveryConfirmationWithoutSignature",
    "NoTracking",
];

/// A validated `ShipmentRequestDetails`.
pub(super) struct Details {
    pub(super) order_id: String,
    pub(super) items: Vec<(String, u32)>,
    pub(super) weight_oz: f64,
    /// Length, width, height in inches (none for a predefined package).
    pub(super) dims_in: Option<(f64, f64, f64)>,
    pub(super) must_arrive_by: Option<DateTime<Utc>>,
    pub(super) ship_date: Option<DateTime<Utc>>,
    pub(super) label_format: Option<String>,
    pub(super) delivery_experience: String,
    pub(super) declared_value: Option<Value>,
    pub(super) print_order_id: bool,
    pub(super) custom_text: Option<String>,
    /// The request's own JSON, echoed in the shipment as Amazon does.
    pub(super) raw: Value,
}

fn string_at<'a>(v: &'a Value, path: &str, field: &str) -> Result<&'a str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("{path}.{field} is required."))
}

fn positive(v: &Value, path: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x.is_finite() && x > 0.0 => Ok(x),
        Some(_) => Err(format!("{path} must be greater than zero.")),
        None => Err(format!("{path} is required and must be a number.")),
    }
}

fn time_at(v: &Value, path: &str) -> Result<Option<DateTime<Utc>>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.into()))
            .map_err(|_| format!("{path} must be an ISO 8601 date-time.")),
        _ => Err(format!("{path} must be an ISO 8601 date-time.")),
    }
}

fn is_order_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .zip([3, 7, 7])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Checks `ShipmentRequestDetails` as Amazon does; the message names the field, never a value.
pub(super) fn details(body: &Value) -> Result<Details, String> {
    const P: &str = "ShipmentRequestDetails";
    let d = &body[P];
    if !d.is_object() {
        return Err(format!("{P} is required."));
    }
    let order_id = string_at(d, P, "AmazonOrderId")?;
    if !is_order_id(order_id) {
        return Err(format!("{P}.AmazonOrderId must be in 3-7-7 format."));
    }
    let list = d["ItemList"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| format!("{P}.ItemList needs at least one item."))?;
    let mut items = Vec::with_capacity(list.len());
    for (i, it) in list.iter().enumerate() {
        let at = format!("{P}.ItemList[{i}]");
        let id = string_at(it, &at, "OrderItemId")?;
        let q = it["Quantity"]
            .as_u64()
            .filter(|q| (1..=i32::MAX as u64).contains(q))
            .ok_or_else(|| format!("{at}.Quantity must be a whole number of at least 1."))?;
        items.push((id.to_owned(), q as u32));
    }
    let from = &d["ShipFromAddress"];
    if !from.is_object() {
        return Err(format!("{P}.ShipFromAddress is required."));
    }
    let from_at = format!("{P}.ShipFromAddress");
    for (field, max, nonempty) in [
        ("Name", 30, true),
        ("AddressLine1", 180, true),
        ("City", 30, true),
        ("PostalCode", 30, true),
        ("CountryCode", 2, true),
        ("Phone", 30, true),
        ("Email", 256, false),
    ] {
        let v = string_at(from, &from_at, field)?;
        if nonempty && v.trim().is_empty() {
            return Err(format!("{from_at}.{field} must not be empty."));
        }
        if v.chars().count() > max {
            return Err(format!(
                "{from_at}.{field} is longer than {max} characters."
            ));
        }
    }
    for (field, max) in [
        ("AddressLine2", 60),
        ("AddressLine3", 60),
        ("StateOrProvinceCode", 30),
    ] {
        match &from[field] {
            Value::Null => {}
            Value::String(s) if s.chars().count() <= max => {}
            Value::String(_) => {
                return Err(format!(
                    "{from_at}.{field} is longer than {max} characters."
                ));
            }
            _ => return Err(format!("{from_at}.{field} must be a string.")),
        }
    }
    let country = from["CountryCode"].as_str().unwrap_or_default();
    if !(country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(format!(
            "{from_at}.CountryCode must be a two-letter ISO 3166-1 code."
        ));
    }
    let dims = &d["PackageDimensions"];
    if !dims.is_object() {
        return Err(format!("{P}.PackageDimensions is required."));
    }
    let dims_in = if dims["PredefinedPackageDimensions"].is_string() {
        None
    } else {
        let at = |f: &str| format!("{P}.PackageDimensions.{f}");
        let (l, w, h) = (
            positive(&dims["Length"], &at("Length"))?,
            positive(&dims["Width"], &at("Width"))?,
            positive(&dims["Height"], &at("Height"))?,
        );
        let per_inch = match dims["Unit"].as_str() {
            Some("inches") => 1.0,
            Some("centimeters") => 2.54,
            _ => return Err(format!("{} must be inches or centimeters.", at("Unit"))),
        };
        Some((l / per_inch, w / per_inch, h / per_inch))
    };
    let weight = &d["Weight"];
    if !weight.is_object() {
        return Err(format!("{P}.Weight is required."));
    }
    let value = positive(&weight["Value"], &format!("{P}.Weight.Value"))?;
    let weight_oz = match weight["Unit"].as_str() {
        Some("oz") => value,
        Some("g") => value / 28.349_523_125,
        _ => return Err(format!("{P}.Weight.Unit must be oz or g.")),
    };
    let must_arrive_by = time_at(&d["MustArriveByDate"], &format!("{P}.MustArriveByDate"))?;
    let ship_date = time_at(&d["ShipDate"], &format!("{P}.ShipDate"))?;
    let opts = &d["ShippingServiceOptions"];
    if !opts.is_object() {
        return Err(format!("{P}.ShippingServiceOptions is required."));
    }
    let delivery_experience = opts["DeliveryExperience"]
        .as_str()
        .filter(|x| DELIVERY_EXPERIENCES.contains(x))
        .ok_or_else(|| {
            format!("{P}.ShippingServiceOptions.DeliveryExperience is required and must be a DeliveryExperienceType.")
        })?;
    if !opts["CarrierWillPickUp"].is_boolean() {
        return Err(format!(
            "{P}.ShippingServiceOptions.CarrierWillPickUp is required and must be true or false."
        ));
    }
    let label_format = match &opts["LabelFormat"] {
        Value::Null => None,
        Value::String(f)
            if ["PDF", "PNG", "ZPL203", "ZPL300", "ShippingServiceDefault"]
                .contains(&f.as_str()) =>
        {
            Some(f.clone())
        }
        _ => {
            return Err(format!(
                "{P}.ShippingServiceOptions.LabelFormat must be a LabelFormat."
            ));
        }
    };
    let declared_value = match &opts["DeclaredValue"] {
        Value::Null => None,
        v if v["CurrencyCode"].as_str().is_some_and(|c| c.len() == 3)
            && v["Amount"]
                .as_f64()
                .is_some_and(|a| a.is_finite() && a >= 0.0) =>
        {
            Some(v.clone())
        }
        _ => {
            return Err(format!(
                "{P}.ShippingServiceOptions.DeclaredValue needs a three-letter CurrencyCode and an Amount."
            ));
        }
    };
    let custom = &d["LabelCustomization"];
    let custom_text = match &custom["CustomTextForLabel"] {
        Value::Null => None,
        Value::String(s) if s.chars().count() <= 14 => Some(s.clone()),
        _ => {
            return Err(format!(
                "{P}.LabelCustomization.CustomTextForLabel is at most 14 characters."
            ));
        }
    };
    let print_order_id = match &custom["StandardIdForLabel"] {
        Value::Null => false,
        Value::String(s) if s == "AmazonOrderId" => true,
        _ => {
            return Err(format!(
                "{P}.LabelCustomization.StandardIdForLabel must be AmazonOrderId."
            ));
        }
    };
    Ok(Details {
        order_id: order_id.to_owned(),
        items,
        weight_oz,
        dims_in,
        must_arrive_by,
        ship_date,
        label_format,
        delivery_experience: delivery_experience.to_owned(),
        declared_value,
        print_order_id,
        custom_text,
        raw: d.clone(),
    })
}
