"""AWS Organizations' errors, with the codes and wording the service answers.

https://docs.aws.amazon.com/organizations/latest/APIReference/CommonErrors.html and each
operation's Errors section.
"""

from __future__ import annotations

from lakestack.aws.errors import AwsError


def access_denied() -> AwsError:
    # 403, as the gateway answers a caller whose IAM policies deny an organizations: action.
    return AwsError("AccessDeniedException", "You don't have permissions to access this resource.", status=403)


def not_in_use() -> AwsError:
    return AwsError("AWSOrganizationsNotInUseException",
                    "Your account is not a member of an organization.")


def already_in_organization() -> AwsError:
    return AwsError("AlreadyInOrganizationException", "The provided account is already a member of an organization.")


def organization_not_empty() -> AwsError:
    return AwsError("OrganizationNotEmptyException",
                    "To delete an organization you must first remove all member accounts (except the master).")


def account_not_found() -> AwsError:
    return AwsError("AccountNotFoundException", "You specified an account that doesn't exist.")


def create_account_status_not_found() -> AwsError:
    return AwsError("CreateAccountStatusNotFoundException",
                    "We can't find a create account request with the CreateAccountRequestId that you specified.")


def invalid_input(reason: str, message: str) -> AwsError:
    return AwsError("InvalidInputException", message, Reason=reason)


def invalid_next_token() -> AwsError:
    return invalid_input("INVALID_NEXT_TOKEN", "The specified token is invalid.")
