//! The Reports API's names packline's client and the training marketplace share: its operations
//! and the report types packline asks for.

use crate::endpoints;

pub const CREATE_REPORT: &str = endpoints::CREATE_REPORT.name;
pub const GET_REPORT: &str = endpoints::GET_REPORT.name;
pub const GET_REPORT_DOCUMENT: &str = endpoints::GET_REPORT_DOCUMENT.name;
/// The merchant returns report, by return request date.
pub const RETURNS_REPORT: &str = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE";
/// Amazon's report of unshipped merchant-fulfilled orders (restricted: it holds addresses).
pub const ACTIONABLE_REPORT: &str = "GET_FLAT_FILE_ACTIONABLE_ORDER_DATA_SHIPPING";
/// The most days of data one returns report covers.
pub const MAX_REPORT_DAYS: i64 = 60;
