"""The foundation every service stands on: settings, the database, i18n, language detection, privacy,
keys, authenticated hops, coordination and the wire protocol. It imports no other package of ours."""
