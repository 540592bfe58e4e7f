//! Delivery-status, feedback and read-receipt reports (placeholder until the
//! full corpus-checked version lands).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    DeliveryStatus,
    NonStandardBounce,
    Feedback,
    ReadReceipt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub kind: ReportKind,
    pub failed_recipients: Vec<String>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub original_message_id: Option<String>,
    pub permanent: bool,
}

pub fn delivery_report(_msg: &mail_parser::Message<'_>) -> Option<DeliveryReport> {
    None
}
