"""Every fixed text the bot shows, by key. English is the msgid; az and ru come from the catalogs."""

from __future__ import annotations

from assistant.i18n import N_

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
    "contact_people": N_(
        "You can talk to a person at the State Migration Service: call the call centre at 919, or visit a "
        "regional migration department or an “ASAN service” centre."
    ),
    "status_how": N_(
        "To check the status of your application, use “Follow the application” on migration.gov.az, or "
        "call 919 with your application number at hand."
    ),
    "anything_else": N_("All right. What else would you like to know?"),
    "language_menu": N_("Choose the language I should answer in:"),
    "language_set": N_("Done: from now on I will answer in English."),
    "non_text": N_("I can only read text messages. Please type your question in words."),
    "too_long": N_(
        "Your message is too long for me ({length} characters). Please ask one question in at most {limit} "
        "characters."
    ),
    "empty": N_("Your message is empty. Please type your question."),
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
    "talk_to_person": N_("Talk to a person"),
    "none_of_these": N_("None of these"),
    "rate_thanks": N_("Thank you for your feedback!"),
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
}
