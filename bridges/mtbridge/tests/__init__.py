import logging

# IsolatedAsyncioTestCase runs its loop in debug mode, which reports every slow step (a test that starts a
# database takes seconds by design); the tests' own assertions say what matters.
logging.getLogger("asyncio").setLevel(logging.ERROR)
