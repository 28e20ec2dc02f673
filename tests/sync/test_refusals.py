"""Xero's refusals as sentences; a locked period says what to do."""
from sync.refusals import refusal_sentence


def test_end_of_year_lock_says_the_period_is_locked_and_what_to_do():
    sentence = refusal_sentence("invoice 10234", [
        "The document date cannot be before the end of year lock date, currently set at "
        "31-Mar-2026"])
    assert sentence == (
        "Xero refused invoice 10234: its date falls in a period that is locked in Xero "
        "(end-of-year lock date 31-Mar-2026). Ask your Xero adviser to move the lock date "
        "and then force a sync of this record, or date the document in an open period in "
        "ConnectWise and Ferry writes it on the next cycle.")


def test_period_lock_is_named_as_such():
    assert "(period lock date 30-Jun-2026)" in refusal_sentence("bill PO 1 slip A", [
        "The document date cannot be before the period lock date, currently set at "
        "30-Jun-2026"])


def test_other_refusals_pass_on_xeros_words():
    assert refusal_sentence("invoice 1", ["Account code '230' is not a valid code.", "x"]) \
        == "Xero refused invoice 1: Account code '230' is not a valid code. x"


def test_an_archived_contact_says_to_restore_it():
    sentence = refusal_sentence("invoice 7", [
        "The contact with the specified contact details has been archived. The contact "
        "must be un-archived before creating new invoices or credit notes."])
    assert "its contact is archived in Xero" in sentence
    assert "Restore the contact in Xero (Contacts, Archived)" in sentence
