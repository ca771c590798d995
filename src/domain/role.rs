//! Roles on the floor: what a person may do. Packers see order numbers, items and a masked name;
//! labelers see what the label shows; leads may reveal a record, with a reason for the audit log.
//! Pure: who holds which role is configuration (`config::RolesConfig`), and what each role may
//! ask is the service's check.

/// What a person may do on the floor. Ordered: a check asks for at least a role, and a lead may
/// do all a labeler or packer may.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Packer,
    Labeler,
    Lead,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Packer => "packer",
            Role::Labeler => "labeler",
            Role::Lead => "lead",
        }
    }
}
