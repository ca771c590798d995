//! Frozen layouts of what is sealed: a recipient (format 1) and a note's words (format 3), the
//! plaintext inside an age envelope (`seal.rs`). Format 2 is a printable document, kept as its
//! bytes. Personal data: the types wipe themselves when dropped and have no `Debug`.

use std::mem::take;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{Error, Record};
use crate::domain::{GiftMessage, NoteText, Recipient};
use crate::store::RecordKind;

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct GiftMessage1 {
    pub item_id: String,
    pub message: String,
}

/// A recipient (format 1): where and to whom an order ships.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Recipient1 {
    pub name: String,
    pub company: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub address_line3: Option<String>,
    pub city: Option<String>,
    pub district_or_county: Option<String>,
    pub state_or_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
    pub phone: Option<String>,
    pub delivery_instructions: Option<String>,
    pub gift_messages: Vec<GiftMessage1>,
}

impl Record for Recipient1 {
    const KIND: RecordKind = RecordKind::SealedRecipient;
    const FORMAT: u8 = 1;
    type Value = Recipient;

    fn from_value(r: &Recipient) -> Self {
        Recipient1 {
            name: r.name.clone(),
            company: r.company.clone(),
            address_line1: r.address_line1.clone(),
            address_line2: r.address_line2.clone(),
            address_line3: r.address_line3.clone(),
            city: r.city.clone(),
            district_or_county: r.district_or_county.clone(),
            state_or_region: r.state_or_region.clone(),
            postal_code: r.postal_code.clone(),
            country_code: r.country_code.clone(),
            phone: r.phone.clone(),
            delivery_instructions: r.delivery_instructions.clone(),
            gift_messages: r
                .gift_messages
                .iter()
                .map(|g| GiftMessage1 {
                    item_id: g.item_id.clone(),
                    message: g.message.clone(),
                })
                .collect(),
        }
    }

    fn into_value(mut self) -> Result<Recipient, Error> {
        let mut r = Recipient::named(take(&mut self.name));
        r.company = take(&mut self.company);
        r.address_line1 = take(&mut self.address_line1);
        r.address_line2 = take(&mut self.address_line2);
        r.address_line3 = take(&mut self.address_line3);
        r.city = take(&mut self.city);
        r.district_or_county = take(&mut self.district_or_county);
        r.state_or_region = take(&mut self.state_or_region);
        r.postal_code = take(&mut self.postal_code);
        r.country_code = take(&mut self.country_code);
        r.phone = take(&mut self.phone);
        r.delivery_instructions = take(&mut self.delivery_instructions);
        r.gift_messages = self
            .gift_messages
            .iter_mut()
            .map(|g| GiftMessage {
                item_id: take(&mut g.item_id),
                message: take(&mut g.message),
            })
            .collect();
        Ok(r)
    }
}

/// A note's words (format 3): an inquiry's note, an exception note, a hold or void reason.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct Note3(pub String);

impl Record for Note3 {
    const KIND: RecordKind = RecordKind::SealedNote;
    const FORMAT: u8 = 3;
    type Value = NoteText;

    fn from_value(t: &NoteText) -> Self {
        Note3(t.as_str().to_owned())
    }

    fn into_value(self) -> Result<NoteText, Error> {
        Ok(NoteText::from_stored(&self.0))
    }
}
