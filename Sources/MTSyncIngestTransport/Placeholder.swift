// The SQS client and the HTTP data-ingest sink live here (AsyncHTTPClient).
import MTSyncIngest
