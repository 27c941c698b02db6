from django import forms


class GroupCreateForm(forms.Form):
    name = forms.CharField(max_length=50, help_text="Lowercase letters, digits and dashes; used in the room's URL.")
    title = forms.CharField(max_length=100, required=False)


class GroupEditForm(forms.Form):
    title = forms.CharField(max_length=100)
    retention_days = forms.IntegerField(required=False, min_value=1, max_value=365)
    remove = forms.TypedMultipleChoiceField(coerce=int, required=False, choices=())

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["remove"].choices = [(m.pk, m.username) for m in members]
