"""Pure parsers: text a platform's tool printed in, payload pieces out. No I/O, no commands run,
standard library only, valid on Python 3.7; the portal imports the ones it shares."""
