"""Helpers shared by the constructs: defaults, validation, roles, Fargate and Lambda parts.

Public within the project (stacks use some of them too); not part of the constructs' API.
"""
