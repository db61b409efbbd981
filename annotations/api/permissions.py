from rest_framework.permissions import BasePermission

from annotations.roles import Role, has_role


class IsCoordinator(BasePermission):
    def has_permission(self, request, view) -> bool:
        return has_role(request.user, Role.COORDINATOR)
