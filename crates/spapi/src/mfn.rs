//! Merchant Fulfillment v0's shapes packline's client and the training marketplace share.

/// Whether `id` has the shape of an MFN shipment id (the model's pattern: a UUID). Checked before
/// it goes into a URL path.
pub fn is_shipment_id(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipment_ids_are_uuids() {
        assert!(is_shipment_id("be7a0a53-00c3-4f6f-a63a-639f76ee9253"));
        assert!(!is_shipment_id("be7a0a53-00c3-4f6f-a63a-639f76ee925"));
        assert!(!is_shipment_id("../../orders/v0/orders"));
        assert!(!is_shipment_id("be7a0a53-00c3-4f6f-a63a-639f76ee9253/x"));
    }
}
