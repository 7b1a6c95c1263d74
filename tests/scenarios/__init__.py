"""Scenario tests: the key enforcer walked through rollovers against a model of resolver caches."""
