"""Every fixed text the bot shows, by key. English is the msgid; az and ru come from the catalogs."""

from __future__ import annotations

from core.i18n import N_

TEXTS: dict[str, str] = {
    "greet": N_(
        "Hello! I am the migration information assistant. I answer questions about registration upon place "
        "of stay, residence and work permits, visas, citizenship, refugee status and statelessness in "
        "Azerbaijan.\n\nAsk your question in your own words, or type /help."
    ),
    "goodbye": N_("Goodbye! Come back whenever you have a question."),
    "thanks": N_("You are welcome! Is there anything else I can help with?"),
    "help": N_(
        "I can answer questions about:\n"
        "• registration upon place of stay\n"
        "• temporary and permanent residence permits\n"
        "• work permits\n"
        "• visas and e-visas\n"
        "• citizenship\n"
        "• refugee status and asylum\n"
        "• statelessness\n\n"
        "Just write your question, for example: “How do I extend my residence permit?”\n"
        "/language changes the language."
    ),
    "iamabot": N_(
        "I am an automated assistant, not a person. My answers follow the official rules and name their "
        "legal source. To talk to a person, call the State Migration Service's call centre at 919."
    ),
    "out_of_scope": N_(
        "Sorry, I can only help with questions about migration to Azerbaijan: stay and registration, "
        "permits, visas, citizenship, refugee status and statelessness."
    ),
    "not_understood": N_(
        "Sorry, I did not understand that. Could you ask in other words? Type /help to see what I can answer."
    ),
    "anything_else": N_("All right. What else would you like to know?"),
    "language_menu": N_("Choose the language I should answer in:"),
    "language_set": N_("Done: from now on I will answer in English."),
    "non_text": N_("I can only read text messages. Please type your question in words."),
    "too_long": N_(
        "Your message is too long for me ({length} characters). Please ask one question in at most {limit} characters."
    ),
    "empty": N_("Your message is empty. Please type your question."),
    "flood": N_(
        "You are sending messages faster than I can read them. I answered the first ones; please wait a few "
        "seconds, then send your question again."
    ),
    "engine_down": N_(
        "Sorry, I cannot answer right now because of a technical problem. Please try again in a few "
        "minutes; for urgent questions call 919."
    ),
    "error": N_("Sorry, something went wrong on my side. Please try again."),
    "unknown_command": N_("I do not know this command. Type /help to see what I can do."),
    "button_expired": N_("This button is no longer active."),
    "did_you_mean": N_("I am not sure I understood. Did you mean one of these?"),
    "no_answer": N_(
        "I could not find an answer to that. You can ask in other words, or talk to a person at the State "
        "Migration Service."
    ),
    "clarify": N_("Which one do you mean?"),
    # What a clarifying question offers: the subjects (the knowledge base's topics), as buttons.
    "subject_registration": N_("Registration upon place of stay"),
    "subject_temporary_residence": N_("Temporary residence permit"),
    "subject_permanent_residence": N_("Permanent residence permit"),
    "subject_work_permit": N_("Work permit"),
    "subject_visa": N_("Visa and length of stay"),
    "subject_citizenship": N_("Citizenship"),
    "subject_refugee": N_("Asylum and refugee status"),
    "subject_statelessness": N_("Statelessness"),
    "subject_e_services": N_("Online services"),
    "subject_fees": N_("State fees in general"),
    "subject_processing_times": N_("Processing times in general"),
    "subject_contacts": N_("Contacts and offices"),
    "subject_lost_or_late": N_("Lost documents, missed deadlines"),
    "subject_entry_and_bans": N_("Entry and entry bans"),
    "subject_health": N_("Health care"),
    "subject_family": N_("Family and children"),
    "subject_tax_and_banking": N_("Taxes and banking"),
    "subject_driving": N_("Driving licence"),
    "talk_to_person": N_("Talk to a person"),
    "none_of_these": N_("None of these"),
    "rate_thanks": N_("Thank you for your feedback!"),
    # --- application status
    "ask_application_number": N_(
        "I can check your application. Please send its number as written on your receipt, for example "
        "TRP-2026-000123. Send “cancel” to stop at any point."
    ),
    "ask_verification": N_(
        "To make sure it is your application, send your date of birth (for example 12.03.1990) or your "
        "personal identification number (FIN, 7 letters and digits)."
    ),
    "status_number_invalid": N_(
        "That does not look like an application number. It has three letters, the year and six digits, "
        "for example TRP-2026-000123."
    ),
    "status_verification_invalid": N_(
        "I could not read that as a date of birth or a FIN. Send a date such as 12.03.1990, or the 7 letters "
        "and digits of your FIN."
    ),
    "status_not_found": N_(
        "I could not find an application with this number and these details. Please check both and try again. "
        "After 5 unsuccessful attempts within an hour, checks are paused for a while."
    ),
    "status_locked": N_(
        "For your security, status checks are paused after several unsuccessful attempts. You can try again "
        "after {until} (Baku time), or call 919."
    ),
    "status_application_paused": N_(
        "For security, checks of this application are paused for a while after several unsuccessful attempts. "
        "You can try again after {until} (Baku time). If it is your application, you can also call 919."
    ),
    "status_unavailable": N_(
        "The application system is not answering right now. Please try again in a few minutes, check “Follow "
        "the application” on migration.gov.az, or talk to a person."
    ),
    "status_expired": N_("That took too long and I did not keep your details. Please start the check again."),
    "status_cancelled": N_("Cancelled. I did not keep the details you sent."),
    "status_notify_me": N_("Tell me when it changes"),
    "status_subscribed": N_("Done: I will write to you here when the status of this application changes."),
    "status_changed": N_("The status of your application has changed."),
    "status_title": N_("Application {number}"),
    "status_line": N_("Status: {status}"),
    "status_submitted": N_("Submitted: {date}"),
    "status_updated": N_("Last change: {date}"),
    "status_decision": N_("Decision: {date}"),
    "status_valid_until": N_("Valid until: {date}"),
    "status_office": N_("Office: {office}"),
    "status_missing": N_("Missing documents:"),
    "service_registration": N_("registration upon place of stay"),
    "service_stay_extension": N_("extension of temporary stay"),
    "service_temporary_residence": N_("temporary residence permit"),
    "service_permanent_residence": N_("permanent residence permit"),
    "service_work_permit": N_("work permit"),
    "service_citizenship": N_("citizenship"),
    "service_refugee_status": N_("refugee status"),
    "state_received": N_("received"),
    "state_under_review": N_("under review"),
    "state_documents_requested": N_("documents requested"),
    "state_approved": N_("approved"),
    "state_rejected": N_("rejected"),
    "state_ready_for_collection": N_("ready for collection"),
    "state_issued": N_("issued"),
    "state_withdrawn": N_("withdrawn"),
    "next_wait": N_("Next step: nothing for you to do now; the service is working on it."),
    "next_submit_documents": N_("Next step: submit the missing documents listed below."),
    "next_pay_fee": N_(
        "Next step: pay the state fee within 30 days (payment number in “Follow the application” on "
        "migration.gov.az), or the permit is cancelled."
    ),
    "next_collect_card": N_("Next step: collect your card at the office below; bring your passport."),
    "next_appeal_possible": N_(
        "Next step: you may appeal this decision; keep the written decision and note the deadline in it."
    ),
    "document_passport_copy": N_("copy of the passport"),
    "document_photos": N_("photos 3.5 × 4.5 cm"),
    "document_medical_certificate": N_("medical certificate"),
    "document_housing_document": N_("document on the dwelling"),
    "document_employment_contract": N_("employment contract"),
    "document_fee_receipt": N_("state fee receipt"),
    "document_marriage_certificate": N_("marriage certificate"),
    "document_birth_certificate": N_("birth certificate"),
    # --- handing the chat to people
    "handoff_opened": N_(
        "I am passing our conversation to a person from the State Migration Service. They will answer you "
        "here, in this chat. Everything you write now goes to them."
    ),
    "handoff_not_understood": N_(
        "I still did not understand, sorry. I am passing our conversation to a person from the State "
        "Migration Service: they will answer you here. Everything you write now goes to them."
    ),
    "handoff_sensitive": N_(
        "Your situation may need personal help, so I am also passing our conversation to a person from the "
        "State Migration Service. They will answer you here. In an emergency call 112."
    ),
    "handoff_hours_open": N_("People answer during working hours ({hours}, Baku time), usually within minutes."),
    "handoff_hours_closed": N_(
        "Our staff work {hours} (Baku time). It is outside working hours now, so a person will answer from "
        "{when}. Your messages are kept until then."
    ),
    "handoff_already": N_("You are already talking with our staff: write here and they will answer you."),
    "handoff_escalated": N_(
        "Your question has been passed to a migration officer, who will answer you here. Your earlier "
        "messages went with it."
    ),
    "handoff_resolved": N_(
        "The conversation with our staff has ended, and I am the assistant again: ask me anything. How "
        "helpful was the person who answered you?"
    ),
    "handoff_not_delivered": N_(
        "Sorry, your message could not be passed on to our staff just now. Please send it again in a minute."
    ),
    "handoff_busy_button": N_("You are talking with our staff now: write to them here."),
    "handoff_unavailable": N_(
        "Nobody can take over this chat right now. You can talk to a person at the State Migration Service: "
        "call the call centre at 919, or visit a regional migration department or an “ASAN service” centre."
    ),
    # --- the bot's words in the staff groups (in the staff's language)
    "staff_ticket_title": N_("Ticket {number}"),
    "staff_reason_asked": N_("the user asked for a person"),
    "staff_reason_not_understood": N_("the assistant did not understand twice"),
    "staff_reason_sensitive_topic": N_("a situation that needs a person"),
    "staff_ticket_header": N_("Language: {user_language} · Reason: {reason} · Queue: {queue}"),
    "staff_transcript": N_("Conversation so far:"),
    "staff_no_transcript": N_("(no earlier messages)"),
    "staff_escalation_note": N_("Note from support: {note}"),
    "staff_how_to": N_(
        "Whatever you write in this topic goes to the user. To pass the ticket to officers, write "
        "/escalate and a note. Commands and messages starting with “!” stay here."
    ),
    "staff_take": N_("Take"),
    "staff_escalate": N_("Escalate to officers"),
    "staff_resolve": N_("Resolve"),
    "staff_taken_by": N_("{name} has taken this ticket."),
    "staff_escalated_by": N_("{name} passed this ticket to the officers: {note}"),
    "staff_resolved_by": N_("{name} resolved this ticket; the assistant answers the user again."),
    "staff_only": N_("Only members of the staff groups can act on tickets."),
    "staff_escalate_how": N_("Write /escalate and a note for the officers in this topic."),
    "staff_user_blocked": N_("The user has blocked the bot: this message was not delivered."),
    "staff_not_delivered": N_("This message could not be delivered to the user; please send it again."),
    "staff_ticket_closed": N_("This ticket is closed; nothing written here reaches the user."),
    "answer_source": N_("Source: {source}"),
    "answer_reviewed": N_("Last reviewed: {date}"),
    "answer_needs_review": N_(
        "This answer is being re-checked by the service's staff: please confirm important details at 919."
    ),
}

COMMANDS: dict[str, str] = {
    "start": N_("Start the conversation"),
    "help": N_("What I can answer"),
    "language": N_("Change the language"),
    "person": N_("Talk to a person"),
}
