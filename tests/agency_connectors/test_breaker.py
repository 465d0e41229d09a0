from agency_connectors.breaker import CircuitBreaker


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_opens_after_threshold_then_lets_one_trial_through_after_reset_time():
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, reset_after_s=10, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.t = 10
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow(), "only one trial at a time"
    breaker.record_failure()
    assert breaker.state == "open"
    clock.t = 20
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_success_resets_the_failure_count():
    breaker = CircuitBreaker(threshold=2, reset_after_s=10)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"
