from telegram_emulator.server import main

main()
