"""How the assistant serves people, in counts only: what the gateway counts per reply (`counting`), the tables
it adds to (`tables`), and the figures the console's Overview and its CSV show (`report`)."""
