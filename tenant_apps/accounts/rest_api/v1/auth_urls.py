"""/api/v1/auth/: sign-up, sign-in and account recovery for token clients."""

from django.urls import path

from . import auth_views

urlpatterns = [
    path("register/", auth_views.RegisterView.as_view(), name="api-auth-register"),
    path("login/", auth_views.LoginView.as_view(), name="api-auth-login"),
    path("refresh/", auth_views.RefreshView.as_view(), name="api-auth-refresh"),
    path("logout/", auth_views.LogoutView.as_view(), name="api-auth-logout"),
    path(
        "forgot-password/", auth_views.ForgotPasswordView.as_view(), name="api-auth-forgot-password"
    ),
    path("reset-password/", auth_views.ResetPasswordView.as_view(), name="api-auth-reset-password"),
    path("verify-email/", auth_views.VerifyEmailView.as_view(), name="api-auth-verify-email"),
    path(
        "resend-verification/",
        auth_views.ResendVerificationView.as_view(),
        name="api-auth-resend-verification",
    ),
]
