from annotations.roles import Role, user_roles


def roles(request):
    held = user_roles(getattr(request, "user", None))
    return {
        "is_reader": Role.READER in held,
        "is_adjudicator": Role.ADJUDICATOR in held,
        "is_coordinator": Role.COORDINATOR in held,
        "is_submitter": Role.SUBMITTER in held,
    }
