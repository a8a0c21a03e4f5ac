from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from levier.accounts.models import User


@admin.register(User)
class LevierUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Levier", {"fields": ("role",)}))  # type: ignore[misc]
