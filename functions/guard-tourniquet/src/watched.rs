//! What a call touches: one of Tourniquet's own resources in its own account, the member
//! stack in a member account, or nothing of Tourniquet's.

use tourniquet::events::ApiCall;
use tourniquet::own::Own;
use tourniquet::{Case, Intake};

use crate::Guard;
use crate::member;

impl Guard {
    /// The case a call makes: in a member account, about the member stack; in Tourniquet's
    /// own account, about the resource of Tourniquet's it names. A failed call changed
    /// nothing.
    pub(crate) fn touched(&self, account: &str, call: &ApiCall) -> Intake<Own> {
        if account != self.home {
            return self.member_call(account, call);
        }
        if call.error_code.is_some() {
            return Intake::Ignore(format!(
                "the {} call failed: nothing changed",
                call.event_name
            ));
        }
        match self.config.own.named(call) {
            Some(own) => Intake::Cases(vec![Case {
                resource: own.resource(),
                target: own,
            }]),
            None => Intake::Ignore(format!(
                "{} names none of Tourniquet's resources",
                call.event_name
            )),
        }
    }

    /// A call in a member account: about the member stack, or about nothing of Tourniquet's
    /// (a resource of the same name there is someone else's).
    fn member_call(&self, account: &str, call: &ApiCall) -> Intake<Own> {
        let role = self.member_role.as_deref();
        match member::touched(call, role, &self.partition, account) {
            Some((arn, what)) => Intake::Cases(vec![Case {
                resource: arn,
                target: Own::Member(what),
            }]),
            None => Intake::Ignore(format!(
                "{} in account {account} names none of the member stack's resources",
                call.event_name
            )),
        }
    }
}
